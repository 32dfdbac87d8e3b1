#!/usr/bin/env python3
"""Writes a compose project with N services (default 1000): a realistic mix of web,
worker, database and cache services with ports, volumes, environment, healthchecks,
depends_on and networks, so that every stage of the loader has work to do."""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
out = sys.stdout
out.write("x-common: &common\n  restart: unless-stopped\n"
          "  logging:\n    driver: json-file\n    options:\n      max-size: 10m\n\n"
          "services:\n")
for i in range(n):
    kind = i % 4
    out.write(f"  svc{i}:\n    <<: *common\n")
    if kind == 0:
        out.write(f"    image: registry.local/web:{i}\n"
                  f"    ports:\n      - \"{10000 + i}:8080\"\n      - \"127.0.0.1:{20000 + i}:9090/udp\"\n"
                  f"    environment:\n      APP_ENV: ${{APP_ENV:-production}}\n      INDEX: \"{i}\"\n"
                  f"      DATABASE_URL: postgres://u:p@svc{i + 2}:5432/db\n")
        if i + 2 < n:
            out.write(f"    depends_on:\n      svc{i + 2}:\n        condition: service_healthy\n")
        out.write("    networks: [front, back]\n")
    elif kind == 1:
        out.write(f"    image: registry.local/worker:{i}\n    command: worker --queue q{i} --concurrency 4\n"
                  f"    env_file: []\n    environment:\n      - QUEUE=q{i}\n      - DEBUG\n"
                  "    deploy:\n      resources:\n        limits: {cpus: '0.5', memory: 256m}\n"
                  "    networks: [back]\n")
    elif kind == 2:
        out.write("    image: registry.local/postgres:16\n"
                  f"    volumes:\n      - data{i}:/var/lib/postgresql/data\n      - ./init:/docker-entrypoint-initdb.d:ro\n"
                  "    healthcheck:\n      test: [\"CMD\", \"pg_isready\"]\n      interval: 2s\n      retries: 30\n"
                  "    networks:\n      back:\n        aliases: [db]\n")
    else:
        out.write("    image: registry.local/redis:7\n    command: redis-server --appendonly yes\n"
                  "    tmpfs: /tmp\n    healthcheck:\n      test: redis-cli ping\n      interval: 1m30s\n"
                  "    ulimits:\n      nofile: {soft: 20000, hard: 40000}\n    networks: [back]\n")
out.write("\nnetworks:\n  front: {}\n  back:\n    internal: true\n\nvolumes:\n")
for i in range(n):
    if i % 4 == 2:
        out.write(f"  data{i}: {{}}\n")

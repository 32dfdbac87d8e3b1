"""The CI-fixture shape through the real CLI: Postgres and Redis (the test images) with
healthchecks, `up -d --wait`, their published ports reached from the host, `down -v`."""
import socket

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


def test_postgres_and_redis_come_up_healthy_and_answer_on_published_ports(project):
    project.registry.ensure("postgres")
    project.registry.ensure("redis")
    project.write(f"""
services:
  db:
    image: {project.registry.ref("postgres")}
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: secret
      POSTGRES_DB: app
    ports: ["127.0.0.1:15432:5432"]
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "app", "-d", "app", "-h", "127.0.0.1"]
      interval: 2s
      retries: 60
  cache:
    image: {project.registry.ref("redis")}
    command: ["redis-server", "--protected-mode", "no"]
    ports: ["127.0.0.1:16379:6379"]
    healthcheck:
      test: redis-cli ping
      interval: 2s
  app:
    image: BUSYBOX
    command: ["sleep", "100000"]
    stop_signal: SIGKILL
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_healthy
""")
    r = project("up", "-d", "--wait", "--wait-timeout", "120")
    assert r.code == 0, (r, project("logs").out)
    health = {c["Service"]: c["Health"] for c in project.ps_json()}
    assert health == {"db": "healthy", "cache": "healthy", "app": ""}
    with socket.create_connection(("127.0.0.1", 16379), timeout=5) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(100) == b"+PONG\r\n"
    # Postgres answers an SSLRequest with one byte, 'N' (no SSL) or 'S'.
    with socket.create_connection(("127.0.0.1", 15432), timeout=5) as s:
        s.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")
        assert s.recv(1) in (b"N", b"S")
    assert "database system is ready to accept connections" in project.ok("logs", "db").out

/* `cp`: copy files between a service's container and the host, as `docker compose cp`.
 * The copy itself is the engine's (engine_copy): paths in the container resolve inside
 * its root. A stopped container (exited or created, not removed) is copied from and to
 * through its filesystem (its image's layers under its own writable layer) mounted for
 * the copy in a mount namespace of this process, under the project's lock so that it
 * does not start meanwhile. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/daily.h"
#include "engine/engine.h"
#include "super/super.h"
#include "util/cleanup.h"
#include "util/str.h"

static const char cp_usage[] =
	"Usage:  stack cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH\n"
	"        stack cp [OPTIONS] SRC_PATH SERVICE:DEST_PATH\n"
	"        (DEST_PATH \"-\": the source as a tar stream on stdout)\n"
	"\n"
	"Copy files/folders between a service container and the local filesystem\n"
	"\n"
	"Options:\n"
	"  -a, --archive       Archive mode (copy all uid/gid information)\n"
	"  -L, --follow-link   Always follow symbol link in SRC_PATH\n"
	"      --index int     Index of the container if service has multiple replicas\n";

/* Docker's rule: an absolute path, or one whose part before ':' starts with '.', is
 * local; otherwise "X:PATH" names a service (or container) X. */
static bool container_arg(const char *arg, char **who, const char **path)
{
	const char *colon = strchr(arg, ':');

	if (arg[0] == '/' || arg[0] == '.' || !colon)
		return false;
	*who = xstrndup(arg, (size_t)(colon - arg));
	*path = colon + 1;
	return true;
}

/* Is c the container `who` names: its service (with index, that replica), or its name? */
static bool target_of(const struct state_container *c, const char *who, long index)
{
	if (!strcmp(state_str(c->config, "name"), who))
		return true;
	return !strcmp(state_str(c->config, "service"), who) &&
	       (index <= 0 || state_int(c->config, "number") == index);
}

/* The copy, from or to the root directory fd root. */
static int copy_at(int root, const struct engine_copy_opts *o, struct stk_err *err)
{
	if (!strcmp(o->dst, "-") && !o->to_container)
		return engine_copy_tar_at(root, o->src, o->follow_link, STDOUT_FILENO, err);
	return engine_copy_at(root, o, err);
}

/* A container that does not run: its filesystem mounted for the copy. */
static int copy_stopped(const struct daily_set *set, const struct state_container *c,
			const struct engine_copy_opts *o, struct stk_err *err)
{
	_cleanup_close_ int lock = -1;
	_cleanup_free_ char *scratch = xasprintf("%s/cp", c->dir);
	struct engine_spec spec;
	int root = -1, rc;

	engine_spec_init(&spec);
	rc = state_project_lock(&set->paths, set->project, &lock, err);
	if (rc == 0)
		rc = super_container_spec(&set->paths, c, &spec, err);
	if (rc == 0) {
		rc = engine_stopped_root_open(&spec, scratch, &root, err);
		if (rc == 0)
			rc = copy_at(root, o, err);
		engine_stopped_root_close(scratch, root);
	}
	engine_spec_release(&spec);
	return rc;
}

static int copy_one(const struct daily_set *set, const struct state_container *c,
		    struct engine_copy_opts *o, const char *shown)
{
	const char *name = state_str(c->config, "name");
	struct engine_container *ec = NULL;
	struct stk_err err;
	int rc = 0;

	if (!state_container_running(c))
		rc = copy_stopped(set, c, o, &err);
	else if (daily_open(c, &ec, &err) < 0 ||
		 (!strcmp(o->dst, "-") && !o->to_container
			  ? engine_copy_tar(ec, o->src, o->follow_link, STDOUT_FILENO, &err)
			  : engine_copy(ec, o, &err)) < 0)
		rc = -1;
	if (rc < 0)
		cli_error("%s: %s", name, err.msg);
	else if (strcmp(o->dst, "-"))
		fprintf(stderr, " %s copy %s Copied\n", name, shown);
	engine_container_free(ec);
	return rc;
}

/* Running containers first; a service with none is copied from (or to) its stopped ones,
 * as Compose does with containers that exist. */
static bool copy_candidate(const struct state_container *c, bool stopped)
{
	const char *status = state_str(c->state, "status");

	if (!stopped)
		return state_container_running(c);
	return !state_container_running(c) &&
	       (!strcmp(status, "exited") || !strcmp(status, "created"));
}

static int parse_cp(struct cli_globals *g, int argc, char **argv, struct engine_copy_opts *o,
		    long *index)
{
	static const struct option opts[] = {
		{"archive", no_argument, NULL, 'a'},
		{"follow-link", no_argument, NULL, 'L'},
		{"index", required_argument, NULL, 'i'},
		{"all", no_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	char *end;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:aLh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->archive = true;
			break;
		case 'L':
			o->follow_link = true;
			break;
		case 'i':
			*index = strtol(optarg, &end, 10);
			if (*end || *index < 1)
				return cli_usage_error("cp", "invalid --index \"%s\"", optarg);
			break;
		case 'A':
			break; /* deprecated in Compose: one-off containers are not copied to */
		case 'h':
			fputs(cp_usage, stdout);
			return -1;
		default:
			if ((rc = cli_other_option(g, "cp", c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations("cp", argv, 1, optind, opts)))
		return rc;
	if (argc - optind != 2)
		return cli_usage_error("cp", "\"cp\" requires exactly 2 arguments");
	return 0;
}

int cli_cp(struct cli_globals *g, int argc, char **argv)
{
	struct engine_copy_opts o = {0};
	struct daily_set set;
	_cleanup_free_ char *src_who = NULL, *dst_who = NULL, *shown = NULL;
	const char *src_path, *dst_path, *who;
	long index = 0;
	size_t i, found = 0;
	int pass;
	bool from, to;
	int rc = parse_cp(g, argc, argv, &o, &index);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	from = container_arg(argv[optind], &src_who, &src_path);
	to = container_arg(argv[optind + 1], &dst_who, &dst_path);
	if (from && to)
		return cli_usage_error("cp", "copying between services is not supported");
	if (!from && !to)
		return cli_usage_error("cp", "must specify at least one container source");
	o.to_container = to;
	o.src = from ? src_path : argv[optind];
	o.dst = to ? dst_path : argv[optind + 1];
	who = from ? src_who : dst_who;
	if (to && !strcmp(o.src, "-")) {
		cli_error("copying a tar stream from stdin into a service is not supported");
		return CLI_FAIL;
	}
	if (!*o.src || !*o.dst)
		return cli_usage_error("cp", "empty path: \"%s\"",
				       !*o.src ? argv[optind] : argv[optind + 1]);
	if (daily_load(g, NULL, 0, &set) < 0)
		return CLI_FAIL;
	shown = xasprintf("%s to %s", argv[optind], argv[optind + 1]);
	rc = CLI_OK;
	for (pass = 0; pass < 2 && !found; pass++)
		for (i = 0; i < set.n && rc == CLI_OK; i++) {
			if (!target_of(&set.v[i], who, index) ||
			    !copy_candidate(&set.v[i], pass == 1))
				continue;
			/* From a service: its first replica only; to a service: every replica. */
			if (from && found)
				break;
			found++;
			if (copy_one(&set, &set.v[i], &o, shown) < 0)
				rc = CLI_FAIL;
		}
	if (!found) {
		if (index > 0)
			cli_error("service \"%s\" is not running container #%ld", who, index);
		else
			cli_error("no container found for service \"%s\"", who);
		rc = CLI_FAIL;
	}
	daily_release(&set);
	return rc;
}

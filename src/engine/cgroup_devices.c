/* Device access: the allowlist both hierarchies share, written as devices.allow lines on
 * cgroup v1 and compiled into a BPF_PROG_TYPE_CGROUP_DEVICE program on cgroup v2, which
 * is built here as an instruction array and loaded with bpf(2), as runc and crun do. */
#include "engine/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

#define RWM (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)

/* The nodes a default container gets (dev.c) and the ptys of its devpts; every other
 * device can neither be created nor opened. */
const struct cg_dev_rule cg_default_devices[] = {
	{'c', 1, 3, RWM}, /* null */
	{'c', 1, 5, RWM}, /* zero */
	{'c', 1, 7, RWM}, /* full */
	{'c', 1, 8, RWM}, /* random */
	{'c', 1, 9, RWM}, /* urandom */
	{'c', 5, 0, RWM}, /* tty */
	{'c', 5, 1, RWM}, /* console */
	{'c', 5, 2, RWM}, /* ptmx */
	{'c', 136, -1, RWM}, /* pts */
	{'c', 10, 200, RWM}, /* net/tun */
};
const size_t cg_ndefault_devices = sizeof(cg_default_devices) / sizeof(cg_default_devices[0]);

void cg_dev_rule_v1(const struct cg_dev_rule *r, char *buf, size_t len)
{
	char major[24], minor[24];

	if (r->major < 0)
		snprintf(major, sizeof(major), "*");
	else
		snprintf(major, sizeof(major), "%lld", (long long)r->major);
	if (r->minor < 0)
		snprintf(minor, sizeof(minor), "*");
	else
		snprintf(minor, sizeof(minor), "%lld", (long long)r->minor);
	snprintf(buf, len, "%c %s:%s %s%s%s", r->type, major, minor,
		 r->access & BPF_DEVCG_ACC_READ ? "r" : "",
		 r->access & BPF_DEVCG_ACC_WRITE ? "w" : "",
		 r->access & BPF_DEVCG_ACC_MKNOD ? "m" : "");
}

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i;

	memset(&i, 0, sizeof(i));
	i.code = code;
	i.dst_reg = dst & 0xf;
	i.src_reg = src & 0xf;
	i.off = off;
	i.imm = imm;
	return i;
}

#define LDX_W(dst, off) insn(BPF_LDX | BPF_W | BPF_MEM, (dst), BPF_REG_1, (off), 0)
#define ALU32_IMM(op, dst, imm) insn(BPF_ALU | (op) | BPF_K, (dst), 0, 0, (imm))
#define MOV32_REG(dst, src) insn(BPF_ALU | BPF_MOV | BPF_X, (dst), (src), 0, 0)
#define MOV64_IMM(dst, imm) insn(BPF_ALU64 | BPF_MOV | BPF_K, (dst), 0, 0, (imm))
#define JNE_IMM(dst, imm, off) insn(BPF_JMP | BPF_JNE | BPF_K, (dst), 0, (off), (imm))
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* The jump offset from the instruction at index `at` to the one at `to`. */
static int16_t past(size_t at, size_t to)
{
	return (int16_t)(to - at - 1);
}

/* One block per rule: each test that fails jumps past the block to the next rule; a
 * block that runs to its end allows the access. No rule matched: deny. Registers: r2
 * the device type, r3 the access asked for, r4 major, r5 minor, r6 scratch. */
static size_t build_program(const struct cg_dev_rule *rules, size_t n, struct bpf_insn *out)
{
	size_t len = 0, i;

	out[len++] = LDX_W(BPF_REG_2, offsetof(struct bpf_cgroup_dev_ctx, access_type));
	out[len++] = ALU32_IMM(BPF_AND, BPF_REG_2, 0xffff);
	out[len++] = LDX_W(BPF_REG_3, offsetof(struct bpf_cgroup_dev_ctx, access_type));
	out[len++] = ALU32_IMM(BPF_RSH, BPF_REG_3, 16);
	out[len++] = LDX_W(BPF_REG_4, offsetof(struct bpf_cgroup_dev_ctx, major));
	out[len++] = LDX_W(BPF_REG_5, offsetof(struct bpf_cgroup_dev_ctx, minor));
	for (i = 0; i < n; i++) {
		const struct cg_dev_rule *r = &rules[i];
		size_t end = len + 3 + 2 + (r->type != 'a') + (r->major >= 0) + (r->minor >= 0);

		if (r->type != 'a') {
			out[len] =
				JNE_IMM(BPF_REG_2,
					r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR,
					past(len, end));
			len++;
		}
		out[len++] = MOV32_REG(BPF_REG_6, BPF_REG_3);
		out[len++] = ALU32_IMM(BPF_AND, BPF_REG_6, (int32_t)(~r->access & RWM));
		out[len] = JNE_IMM(BPF_REG_6, 0, past(len, end));
		len++;
		if (r->major >= 0) {
			out[len] = JNE_IMM(BPF_REG_4, (int32_t)r->major, past(len, end));
			len++;
		}
		if (r->minor >= 0) {
			out[len] = JNE_IMM(BPF_REG_5, (int32_t)r->minor, past(len, end));
			len++;
		}
		out[len++] = MOV64_IMM(BPF_REG_0, 1);
		out[len++] = EXIT();
	}
	out[len++] = MOV64_IMM(BPF_REG_0, 0);
	out[len++] = EXIT();
	return len;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int load_insns(const struct bpf_insn *insns, size_t n, struct stk_err *err)
{
	static char log[4096];
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = (uint32_t)n;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0)
		return fd;
	if (errno != EINVAL)
		return stk_err_sys(err, "load the device filter (bpf)");
	/* Once more with the verifier's log, for the message. */
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	log[0] = '\0';
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0)
		return fd;
	return stk_err_set(err, EINVAL, "load the device filter (bpf): %s", log);
}

int cgv2_devices_load(const struct cg_dev_rule *rules, size_t n, struct stk_err *err)
{
	_cleanup_free_ struct bpf_insn *insns = xcalloc(6 + 9 * n + 2, sizeof(*insns));

	return load_insns(insns, build_program(rules, n, insns), err);
}

int cgv2_devices_attach(const char *dir, const struct cg_dev_rule *rules, size_t n, int *progfd,
			struct stk_err *err)
{
	_cleanup_close_ int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	union bpf_attr attr;
	int fd;

	if (cgfd < 0)
		return stk_err_sys(err, "open %s", dir);
	fd = cgv2_devices_load(rules, n, err);
	if (fd < 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgfd;
	attr.attach_bpf_fd = (uint32_t)fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	/* Programs of the ancestors (systemd's, say) still run: all must allow. */
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0) {
		stk_err_sys(err, "attach the device filter to %s", dir);
		close(fd);
		return -1;
	}
	*progfd = fd;
	return 0;
}

void cgv2_devices_detach(const char *dir, int progfd)
{
	_cleanup_close_ int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	union bpf_attr attr;

	if (cgfd >= 0) {
		memset(&attr, 0, sizeof(attr));
		attr.target_fd = (uint32_t)cgfd;
		attr.attach_bpf_fd = (uint32_t)progfd;
		attr.attach_type = BPF_CGROUP_DEVICE;
		sys_bpf(BPF_PROG_DETACH, &attr);
	}
	close(progfd);
}

/*
 * uml-launcher: run linux.uml under a seccomp filter that hides the XSAVE area from it.
 *
 * Why: on hosts with AVX-512/AMX the XSAVE area is larger than the stock Debian UML 6.1
 * kernel expects, so its PTRACE_SETREGSET(NT_X86_XSTATE) fails and the guest panics at
 * once ("ptrace set fp regs failed, errno = 14"). When GETREGSET/SETREGSET with
 * NT_X86_XSTATE fail with EIO, UML falls back to PTRACE_GETFPREGS/SETFPREGS, which use
 * the fixed 512-byte FXSAVE area and work everywhere. (Guests then must not use AVX:
 * see docs/uml.md; the caller passes GLIBC_TUNABLES/OPENSSL_ia32cap for that.)
 *
 * Raw classic BPF through prctl(): no libseccomp needed at build time, only the kernel
 * UAPI headers (linux-libc-dev, pulled in by gcc's libc6-dev).
 *
 * Usage: uml-launcher /usr/bin/linux.uml [kernel arguments ...]
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/elf.h>      /* NT_X86_XSTATE */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>     /* PTRACE_GETREGSET, PTRACE_SETREGSET */
#include <sys/syscall.h>

#define ARG_LO(n) (offsetof(struct seccomp_data, args[n]))       /* low 32 bits (x86-64 is LE) */
#define ARG_HI(n) (offsetof(struct seccomp_data, args[n]) + 4)

int main(int argc, char *argv[])
{
    struct sock_filter filter[] = {
        /* Only judge x86-64 syscalls; anything else (i386/x32 entry) is allowed untouched. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 9),
        /* Is it ptrace? */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ptrace, 0, 7),
        /* request (args[0]) == PTRACE_GETREGSET or PTRACE_SETREGSET? */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_GETREGSET, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_SETREGSET, 0, 4),
        /* addr (args[2]) == NT_X86_XSTATE, all 64 bits? Other regsets (GPRs) must keep working. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NT_X86_XSTATE, 0, 2),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_HI(2)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* The XSAVE regset: pretend the kernel cannot do it, so UML uses FXSAVE instead. */
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EIO & SECCOMP_RET_DATA)),
    };
    struct sock_fprog prog = {
        .len = (unsigned short)(sizeof(filter) / sizeof(filter[0])),
        .filter = filter,
    };

    if (argc < 2) {
        fprintf(stderr, "usage: %s /usr/bin/linux.uml [kernel arguments ...]\n", argv[0]);
        return 2;
    }
    /* no_new_privs lets an unprivileged caller install a filter, and guarantees exec cannot
     * drop it; set it even as root so the launcher behaves the same for everybody. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        perror("uml-launcher: prctl(PR_SET_NO_NEW_PRIVS)");
        return 1;
    }
    /* Installed just before exec: the filter survives execv and is inherited by every
     * process UML forks (its ptrace tracer threads and helpers), which is where it matters. */
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
        perror("uml-launcher: prctl(PR_SET_SECCOMP)");
        return 1;
    }
    execv(argv[1], &argv[1]);
    fprintf(stderr, "uml-launcher: execv %s: %s\n", argv[1], strerror(errno));
    return 127;
}

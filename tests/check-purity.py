#!/usr/bin/env python3
# check-purity.py — the build's guard of "functional core, imperative shell": no object of a pure-core
# static library may call a clock, file, socket, process, randomness or environment function, directly or
# through any function defined in an I/O library or in another object that does. Reads `nm` of every
# library given; prints TAP, one test per pure library; exits 1 on a violation.
#
#   check-purity.py --pure LIB.a ... --io LIB.a ...
import subprocess
import sys

# Calls that read a clock, touch files, sockets or processes, draw randomness, read the environment or
# print: none belongs in a pure core (they take the time and their inputs as arguments).
FORBIDDEN = set("""
clock_gettime clock_getres time gettimeofday clock timespec_get ftime sleep usleep nanosleep clock_nanosleep
open open64 openat openat64 creat fopen fopen64 fdopen freopen opendir fdopendir readdir readdir64 closedir
scandir read pread pread64 readv preadv write pwrite pwrite64 writev pwritev close lseek lseek64 fstat
fstat64 stat stat64 lstat lstat64 fstatat fstatat64 statx access faccessat unlink unlinkat rename renameat
renameat2 mkdir mkdirat rmdir mkstemp mkostemp mkstemps tmpfile fsync fdatasync ftruncate truncate mmap
mmap64 munmap realpath readlink readlinkat chdir fchdir getcwd chmod fchmod chown fchown link symlink
socket socketpair connect bind listen accept accept4 send sendto sendmsg recv recvfrom recvmsg shutdown
getaddrinfo gethostbyname poll ppoll select pselect epoll_create epoll_create1 epoll_wait epoll_pwait
epoll_ctl inotify_init1 inotify_add_watch signalfd timerfd_create timerfd_settime eventfd memfd_create
sendfile splice pipe pipe2 dup dup2 dup3 ioctl fcntl
fork vfork execve execv execvp execvpe execl execlp execle system popen pclose posix_spawn posix_spawnp
waitpid wait wait4 waitid kill signal sigaction sigprocmask pthread_sigmask getpid getppid exit _exit
getrandom getentropy rand rand_r random srand srandom drand48 arc4random
getenv secure_getenv setenv unsetenv putenv
printf vprintf fprintf vfprintf dprintf puts fputs fputc putc putchar fwrite fread fgets fgetc getc getline
getdelim fflush perror syslog vsyslog
json_load_file json_loadf json_loadfd json_dump_file json_dumpf json_dumpfd json_load_callback
json_dump_callback
""".split())
# Whole libraries that only do I/O.
FORBIDDEN_PREFIXES = ("MHD_", "curl_", "sqlite3_", "sd_", "g_", "ostree_", "__isoc99_fscanf")


def nm(lib):
    """{object: (defined, undefined)} for a static library."""
    out = subprocess.run(["nm", "-A", "--no-sort", lib], check=True, capture_output=True,
                         text=True).stdout
    objs = {}
    for line in out.splitlines():
        # "lib.a:obj.o:0000000000000000 T name" or "lib.a:obj.o:                 U name"
        fields = line.split(":", 2)
        if len(fields) < 3:
            continue
        obj = fields[1].rsplit("/", 1)[-1]
        parts = fields[2].split()
        if len(parts) < 2:
            continue
        kind, name = parts[-2], parts[-1]
        d, u = objs.setdefault(obj, (set(), set()))
        if kind == "U":
            u.add(name)
        elif kind.isupper() and kind not in "N":
            d.add(name)
    return objs


def forbidden(sym):
    base = sym.split("@")[0]
    return base in FORBIDDEN or base.startswith(FORBIDDEN_PREFIXES)


def main(argv):
    pure, io, mode = [], [], None
    for a in argv:
        if a in ("--pure", "--io"):
            mode = a
        elif mode == "--pure":
            pure.append(a)
        elif mode == "--io":
            io.append(a)
    libs = {lib: nm(lib) for lib in pure + io}
    # Where each symbol is defined, and why each object is impure (fixpoint over the call graph).
    owner = {}
    for lib, objs in libs.items():
        for obj, (d, _) in objs.items():
            for s in d:
                owner[s] = (lib, obj)
    io_defined = {s for s, (lib, _) in owner.items() if lib in io}
    why = {}
    changed = True
    while changed:
        changed = False
        for lib, objs in libs.items():
            for obj, (_, u) in objs.items():
                if (lib, obj) in why:
                    continue
                for s in sorted(u):
                    if forbidden(s):
                        why[(lib, obj)] = f"calls {s}"
                    elif s in owner and owner[s] in why and owner[s] != (lib, obj):
                        why[(lib, obj)] = f"calls {s} ({owner[s][1]}: {why[owner[s]]})"
                    if (lib, obj) in why:
                        changed = True
                        break
    print(f"1..{len(pure)}")
    failed = 0
    for i, lib in enumerate(pure, 1):
        problems = []
        for obj, (_, u) in sorted(libs[lib].items()):
            if (lib, obj) in why:
                problems.append(f"{obj} {why[(lib, obj)]}")
            for s in sorted(u & io_defined):
                problems.append(f"{obj} uses {s}, defined in the I/O library {owner[s][0]}")
        name = lib.rsplit("/", 1)[-1]
        if problems:
            failed += 1
            print(f"not ok {i} - {name} is not pure")
            for p in problems:
                print(f"# {p}")
        else:
            print(f"ok {i} - {name} is pure ({len(libs[lib])} objects)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

// The baseline for bench/: the same device-mapper ioctls devmapper makes, from plain C, with
// nothing in between. Compiled by scripts/bench.js with `cc -O2` at bench time.
//
//   raw_ioctl status  NAME WARMUP BATCHES BATCH [AREA]   DEV_STATUS, ns per call for each batch
//   raw_ioctl suspres NAME WARMUP BATCHES BATCH [AREA]   suspend + resume, ns per cycle for each batch
//   raw_ioctl reload  NAME WARMUP ITER TABLE0 TABLE1 [AREA]
//        per iteration: TABLE_LOAD (TABLE0 / TABLE1 alternately) into the inactive slot, then
//        suspend + resume; the sample is the freeze window, from just before the suspend ioctl
//        to just after the resume ioctl returns (the load is outside it, as in a careful caller)
//   raw_ioctl divert  NAME WARMUP ITER BASE TABLE COWPATH COWDEV STORE CHUNK
//        per iteration, what devmapper's divert() does: wipe the COW header (4 KiB, fsync), create
//        BASE read-only with NAME's TABLE and resume it, load NAME with "snapshot BASE COWDEV STORE
//        CHUNK"; sample = [suspend NAME, resume NAME]; then put NAME back on TABLE and remove BASE
//   raw_ioctl spawn   WARMUP ITER CMD [ARGS...] [';' CMD [ARGS...]]...
//        per iteration: run the commands one after another (posix_spawn + waitpid, stdout and
//        stderr to /dev/null, stop at the first failure), sample = start of the first spawn to
//        the exit of the last. A '[' ... ']' pair of arguments around some commands times only
//        those (the others are setup and teardown). "%d" in an argument becomes the iteration's
//        parity (0 or 1).
//
// RAW_GAP_US=N in the environment: sleep N microseconds before each suspend + resume cycle
// (suspres: then each sample is one cycle, timed alone) and before each reload / divert iteration.
// The kernel's suspend is bimodal (an expedited SRCU grace period, or a normal one of several
// timer ticks) and back-to-back suspends mostly get the slow one, whoever makes them: a gap, the
// same for every contender, keeps the comparison about the caller.
//
// A TABLE is one line "START LENGTH TYPE PARAMS...". AREA is the data area in bytes after the
// 312-byte header (default 16384, devmapper's default first buffer). Output: one line of JSON,
// {"mode":..., "samples_ns":[...]}; errors go to stderr with a non-zero exit.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static int ctl = -1;
static size_t area = 16384;
static long gap_us = 0;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char* what) {
  fprintf(stderr, "raw_ioctl: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void usage(void) {
  fprintf(stderr, "usage: raw_ioctl status|suspres|reload|spawn ... (see the comment at the top)\n");
  exit(2);
}

static long num(const char* s) {
  char* end;
  long v = strtol(s, &end, 10);
  if (*s == 0 || *end != 0 || v < 0) usage();
  return v;
}

// One request buffer per command, built once, reused: a tight loop, as fast as C gets.
static struct dm_ioctl* request(const char* name, size_t payload) {
  size_t size = sizeof(struct dm_ioctl) + (payload > area ? payload : area);
  struct dm_ioctl* io = calloc(1, size);
  if (!io) die("calloc");
  io->version[0] = DM_VERSION_MAJOR;
  io->data_size = (uint32_t)size;
  io->data_start = sizeof(struct dm_ioctl);
  snprintf(io->name, sizeof io->name, "%s", name);
  return io;
}

// The kernel writes its reply over the request (dev, uuid, flags, sizes...): put the request's
// header back before each call. The data area is left as it is, as the kernel only reads it.
struct call_buf {
  struct dm_ioctl* io;
  struct dm_ioctl header;
};

static struct call_buf prepare(struct dm_ioctl* io, uint32_t flags) {
  struct call_buf c = {io, *io};
  c.header.flags = flags;
  return c;
}

static void call(unsigned long req, const struct call_buf* c, const char* what) {
  memcpy(c->io, &c->header, sizeof c->header);
  if (ioctl(ctl, req, c->io) < 0) die(what);
}

static void print_samples(const char* mode, const uint64_t* s, long n) {
  printf("{\"mode\":\"%s\",\"samples_ns\":[", mode);
  for (long i = 0; i < n; i++) printf("%s%llu", i ? "," : "", (unsigned long long)s[i]);
  printf("]}\n");
}

static void batched(const char* mode, int argc, char** argv) {
  if (argc < 6) usage();
  const char* name = argv[2];
  long warmup = num(argv[3]), batches = num(argv[4]), batch = num(argv[5]);
  if (argc > 6) area = (size_t)num(argv[6]);
  if (batch < 1) usage();
  int suspres = strcmp(mode, "suspres") == 0;
  struct dm_ioctl* io = request(name, 0);
  struct call_buf status = prepare(io, 0), suspend = prepare(io, DM_SUSPEND_FLAG), resume = prepare(io, 0);
  uint64_t* s = calloc((size_t)batches + 1, sizeof *s);
  if (suspres && gap_us > 0) batch = 1;
  for (long b = -1; b < batches; b++) {
    long n = b < 0 ? warmup : batch;
    if (suspres && gap_us > 0) usleep((useconds_t)gap_us);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
      if (suspres) {
        call(DM_DEV_SUSPEND, &suspend, "DM_DEV_SUSPEND (suspend)");
        call(DM_DEV_SUSPEND, &resume, "DM_DEV_SUSPEND (resume)");
      } else {
        call(DM_DEV_STATUS, &status, "DM_DEV_STATUS");
      }
    }
    if (b >= 0) s[b] = (now_ns() - t0) / (uint64_t)batch;
  }
  print_samples(mode, s, batches);
}

// "START LENGTH TYPE PARAMS..." -> one dm_target_spec followed by its parameter string.
static struct dm_ioctl* load_request(const char* name, const char* line) {
  unsigned long long start, length;
  char type[DM_MAX_TYPE_NAME];
  int used = 0;
  if (sscanf(line, "%llu %llu %15s %n", &start, &length, type, &used) < 3) {
    fprintf(stderr, "raw_ioctl: bad table line: %s\n", line);
    exit(2);
  }
  const char* params = line + used;
  size_t payload = sizeof(struct dm_target_spec) + ((strlen(params) + 1 + 7) & ~(size_t)7);
  struct dm_ioctl* io = request(name, payload);
  io->target_count = 1;
  struct dm_target_spec* sp = (struct dm_target_spec*)((char*)io + io->data_start);
  sp->sector_start = start;
  sp->length = length;
  snprintf(sp->target_type, sizeof sp->target_type, "%s", type);
  sp->next = 0;
  strcpy((char*)(sp + 1), params);
  return io;
}

static void reload(int argc, char** argv) {
  if (argc < 7) usage();
  const char* name = argv[2];
  long warmup = num(argv[3]), iter = num(argv[4]);
  if (argc > 7) area = (size_t)num(argv[7]);
  struct call_buf load[2] = {prepare(load_request(name, argv[5]), 0), prepare(load_request(name, argv[6]), 0)};
  struct dm_ioctl* io = request(name, 0);
  struct call_buf suspend = prepare(io, DM_SUSPEND_FLAG), resume = prepare(io, 0);
  uint64_t* s = calloc((size_t)iter + 1, sizeof *s);
  for (long i = 0; i < warmup + iter; i++) {
    if (gap_us > 0) usleep((useconds_t)gap_us);
    call(DM_TABLE_LOAD, &load[i & 1], "DM_TABLE_LOAD");
    uint64_t t0 = now_ns();
    call(DM_DEV_SUSPEND, &suspend, "DM_DEV_SUSPEND (suspend)");
    call(DM_DEV_SUSPEND, &resume, "DM_DEV_SUSPEND (resume)");
    if (i >= warmup) s[i - warmup] = now_ns() - t0;
  }
  print_samples("reload", s, iter);
}

static void divert(int argc, char** argv) {
  if (argc < 11) usage();
  const char *name = argv[2], *base = argv[5], *table = argv[6], *cowpath = argv[7], *cowdev = argv[8];
  const char *store = argv[9], *chunk = argv[10];
  long warmup = num(argv[3]), iter = num(argv[4]);
  unsigned long long start, length;
  if (sscanf(table, "%llu %llu", &start, &length) != 2) usage();
  struct dm_ioctl* bio = request(base, 0);
  struct call_buf create = prepare(bio, DM_READONLY_FLAG), resume_base = prepare(bio, 0), remove = prepare(bio, 0);
  struct call_buf load_base = prepare(load_request(base, table), DM_READONLY_FLAG);
  struct call_buf load_back = prepare(load_request(name, table), 0);
  struct dm_ioctl* io = request(name, 0);
  struct call_buf suspend = prepare(io, DM_SUSPEND_FLAG), resume = prepare(io, 0);
  static char zero[4096];
  uint64_t* s = calloc((size_t)iter + 1, sizeof *s);
  for (long i = 0; i < warmup + iter; i++) {
    if (gap_us > 0) usleep((useconds_t)gap_us);
    int fd = open(cowpath, O_RDWR | O_CLOEXEC);
    if (fd < 0) die(cowpath);
    if (pwrite(fd, zero, sizeof zero, 0) != (ssize_t)sizeof zero || fsync(fd) < 0) die("wipe cow header");
    close(fd);
    memcpy(bio, &create.header, sizeof create.header);
    if (ioctl(ctl, DM_DEV_CREATE, bio) < 0) die("DM_DEV_CREATE (base)");
    char snap[512];
    snprintf(snap, sizeof snap, "0 %llu snapshot %u:%u %s %s %s", length, major(bio->dev), minor(bio->dev), cowdev, store, chunk);
    call(DM_TABLE_LOAD, &load_base, "DM_TABLE_LOAD (base)");
    call(DM_DEV_SUSPEND, &resume_base, "DM_DEV_SUSPEND (resume base)");
    struct dm_ioctl* l = load_request(name, snap);
    struct call_buf load_snap = prepare(l, 0);
    call(DM_TABLE_LOAD, &load_snap, "DM_TABLE_LOAD (snapshot)");
    uint64_t t0 = now_ns();
    call(DM_DEV_SUSPEND, &suspend, "DM_DEV_SUSPEND (suspend)");
    call(DM_DEV_SUSPEND, &resume, "DM_DEV_SUSPEND (resume)");
    if (i >= warmup) s[i - warmup] = now_ns() - t0;
    free(l);
    call(DM_TABLE_LOAD, &load_back, "DM_TABLE_LOAD (back)");
    call(DM_DEV_SUSPEND, &suspend, "DM_DEV_SUSPEND (suspend, back)");
    call(DM_DEV_SUSPEND, &resume, "DM_DEV_SUSPEND (resume, back)");
    call(DM_DEV_REMOVE, &remove, "DM_DEV_REMOVE (base)");
  }
  print_samples("divert", s, iter);
}

static void spawn_seq(int argc, char** argv) {
  if (argc < 5) usage();
  long warmup = num(argv[2]), iter = num(argv[3]);
  int n = argc - 4;
  char** cmd = argv + 4;
  char** args = calloc((size_t)n + 1, sizeof *args);
  uint64_t* s = calloc((size_t)iter + 1, sizeof *s);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  for (long i = 0; i < warmup + iter; i++) {
    char parity[2] = {(char)('0' + (i & 1)), 0};
    char* owned[256];
    int nowned = 0;
    for (int k = 0; k < n; k++) {
      char* pct = strstr(cmd[k], "%d");
      if (pct && nowned < 256) {
        char* a = malloc(strlen(cmd[k]) + 1);
        size_t pre = (size_t)(pct - cmd[k]);
        memcpy(a, cmd[k], pre);
        strcpy(a + pre, parity);
        strcat(a, pct + 2);
        args[k] = owned[nowned++] = a;
      } else {
        args[k] = cmd[k];
      }
    }
    uint64_t t0 = now_ns(), t1 = 0;
    for (int k = 0; k < n;) {
      if (strcmp(args[k], "[") == 0 || strcmp(args[k], "]") == 0) {
        if (args[k][0] == '[') t0 = now_ns();
        else t1 = now_ns();
        k++;
        continue;
      }
      if (strcmp(args[k], ";") == 0) {
        k++;
        continue;
      }
      int end = k;
      while (end < n && strcmp(args[end], ";") != 0 && strcmp(args[end], "]") != 0) end++;
      char* saved = args[end];
      args[end] = NULL;
      pid_t pid;
      int err = posix_spawn(&pid, args[k], &fa, NULL, args + k, environ);
      if (err) {
        errno = err;
        die(args[k]);
      }
      int status;
      if (waitpid(pid, &status, 0) < 0) die("waitpid");
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "raw_ioctl: %s %s failed (status 0x%x)\n", args[k], k + 1 < end ? args[k + 1] : "", status);
        exit(1);
      }
      args[end] = saved;
      k = end < n && saved[0] == ';' ? end + 1 : end;
    }
    if (!t1) t1 = now_ns();
    if (i >= warmup) s[i - warmup] = t1 - t0;
    for (int k = 0; k < nowned; k++) free(owned[k]);
  }
  print_samples("spawn", s, iter);
}

int main(int argc, char** argv) {
  if (argc < 2) usage();
  const char* mode = argv[1];
  if (getenv("RAW_GAP_US")) gap_us = num(getenv("RAW_GAP_US"));
  if (strcmp(mode, "spawn") == 0) {
    spawn_seq(argc, argv);
    return 0;
  }
  ctl = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
  if (ctl < 0) die("open /dev/mapper/control");
  if (strcmp(mode, "status") == 0 || strcmp(mode, "suspres") == 0)
    batched(mode, argc, argv);
  else if (strcmp(mode, "reload") == 0)
    reload(argc, argv);
  else if (strcmp(mode, "divert") == 0)
    divert(argc, argv);
  else
    usage();
  return 0;
}

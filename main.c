/* rdagent: multicall entry point.
 *
 * Dispatches on basename(argv[0]) to an applet, or on the first argument
 * when called as "rdagent"; "rdagent" alone runs "agent".  The applet
 * table and help texts are generated from applets/NAME.c top comments. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/applet.h"

#define APPLET(name, func, help) applet_main_fn func;
#include "applets.h"
#undef APPLET

static const struct applet {
	const char *name;
	applet_main_fn *main;
	const char *help;
} applets[] = {
#define APPLET(name, func, help) { name, func, help },
#include "applets.h"
#undef APPLET
};

#define APPLET_COUNT (sizeof applets / sizeof *applets)

/* Extra link names: the drop-in name of Rancher Desktop's guest agent runs
 * the agent, which then reads the Go-style flags.  --install does not
 * create these links. */
static const struct alias {
	const char *name;
	const char *applet;
} aliases[] = {
	{ "rancher-desktop-guestagent", "agent" },
};

static const char rdagent_help[] =
	"usage: rdagent [APPLET [ARGS...]]\n"
	"       rdagent --list | --install [-s] DIR | --help | --version\n"
	"\n"
	"Port-forwarding guest agent for Rancher Desktop on WSL.  Runs the applet\n"
	"named by argv[0] or by the first argument; with none, runs \"agent\".\n"
	"\n"
	"  --list            print the applet names, one per line\n"
	"  --install DIR     create a hard link per applet in DIR\n"
	"  --install -s DIR  create symbolic links instead\n"
	"  APPLET --help     print the applet's usage\n"
	"\n"
	"Exit codes: 0 success, 1 failure, 2 usage error, 111 temporary failure\n"
	"(retry later), 127 unknown applet.\n";

static const struct applet *find_applet(const char *name)
{
	for (size_t i = 0; i < APPLET_COUNT; i++)
		if (!strcmp(applets[i].name, name))
			return &applets[i];
	return NULL;
}

static const struct applet *find_alias(const char *name)
{
	for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
		if (!strcmp(aliases[i].name, name))
			return find_applet(aliases[i].applet);
	return NULL;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Links every applet name in dir to /proc/self/exe's file.  An existing
 * entry is replaced only when it already is a link to this binary. */
static int install_links(const char *dir, int symbolic)
{
	char self[PATH_MAX], path[PATH_MAX];
	struct stat self_st, st;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	int failed = 0;

	if (n < 0)
		die_errno(EXIT_FAIL, errno, "install: readlink /proc/self/exe failed");
	self[n] = 0;
	if (stat(self, &self_st) < 0)
		die_errno(EXIT_FAIL, errno, "install: stat '%s' failed", self);
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		die(EXIT_FAIL, "install: '%s' is not a directory", dir);
	for (size_t i = 0; i < APPLET_COUNT; i++) {
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, applets[i].name) >= sizeof path)
			die(EXIT_FAIL, "install: path too long in '%s'", dir);
		if (lstat(path, &st) == 0) {
			struct stat target;
			int ours = stat(path, &target) == 0 && target.st_dev == self_st.st_dev &&
				   target.st_ino == self_st.st_ino;

			if (!ours) {
				error("install: not replacing '%s': it exists and is not a link to %s", path, self);
				failed = 1;
				continue;
			}
			if (unlink(path) < 0) {
				log_errno(LOG_ERROR, errno, "install: unlink '%s' failed", path);
				failed = 1;
				continue;
			}
		}
		if ((symbolic ? symlink(self, path) : link(self, path)) < 0) {
			log_errno(LOG_ERROR, errno, "install: %s '%s' -> '%s' failed",
				  symbolic ? "symlink" : "link", path, self);
			failed = 1;
		}
	}
	return failed ? EXIT_FAIL : EXIT_OK;
}

static int run_applet(const struct applet *a, int argc, char **argv)
{
	log_init(a->name);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(a->help, stdout);
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
		}
	}
	return a->main(argc, argv);
}

/* Opens /dev/null on any of descriptors 0-2 that is closed, so that a
 * socket or epoll descriptor never lands there: a closed stdin then reads
 * as an empty input instead of failing in odd ways. */
static void open_standard_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			_exit(EXIT_FAIL);
	}
}

int main(int argc, char **argv)
{
	const char *name = base_name(argc > 0 ? argv[0] : "rdagent");
	const struct applet *a = find_applet(name);

	open_standard_fds();
	/* SIGUSR1 asks an applet to log its state.  Applets that handle it take
	 * it through signalfd; ignoring it here means one that does not is not
	 * killed by the default action.  A blocked, ignored signal still
	 * reaches signalfd on Linux. */
	signal(SIGUSR1, SIG_IGN);
	if (!a)
		a = find_alias(name);
	if (a) {
		/* exec of /proc/self/exe (as the agent starts its children)
		 * names the process "exe"; ps should show the applet. */
		prctl(PR_SET_NAME, name);
		return run_applet(a, argc, argv);
	}
	log_init("rdagent");
	/* Any other link name is a mistake, not a request for the agent;
	 * "rdagent" and renamed copies such as "rdagent-x86_64" are the
	 * multicall entry. */
	if (strncmp(name, "rdagent", 7)) {
		error("applet not found: '%s' (rdagent --list shows the applets)", name);
		return EXIT_NOTFOUND;
	}
	if (argc < 2)
		return run_applet(find_applet("agent"), argc, argv);
	if ((!strcmp(argv[1], "--list") || !strcmp(argv[1], "--version")) && argc > 2)
		usage_error("unexpected argument '%s' after %s", argv[2], argv[1]);
	if (!strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < APPLET_COUNT; i++)
			puts(applets[i].name);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(rdagent_help, stdout);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("rdagent " RDAGENT_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--install")) {
		int symbolic = argc > 2 && !strcmp(argv[2], "-s");
		int dir_arg = symbolic ? 3 : 2;

		if (argc > dir_arg + 1)
			usage_error("--install takes [-s] DIR: unexpected argument '%s'",
				    argv[dir_arg][0] == '-' ? argv[dir_arg] : argv[dir_arg + 1]);
		if (argc != dir_arg + 1)
			usage_error("--install takes [-s] DIR");
		return install_links(argv[dir_arg], symbolic);
	}
	if (argv[1][0] == '-') {
		/* Options for the default applet, e.g. "rdagent --docker". */
		return run_applet(find_applet("agent"), argc, argv);
	}
	a = find_applet(argv[1]);
	if (!a) {
		error("applet not found: '%s' (rdagent --list shows the applets)", argv[1]);
		return EXIT_NOTFOUND;
	}
	return run_applet(a, argc - 1, argv + 1);
}

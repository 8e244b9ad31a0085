"""Settings are parsed strictly: every numeric setting, from a flag or from its environment
variable, accepts decimal digits within its stated range and nothing else. A bad value ends the
process with status 2 and one line naming the flag, the variable and the range: never an abort,
never a wrapped or truncated value in use (PORT=70000 once listened on 4464).
"""

import concurrent.futures
import os
import re
import signal
import subprocess
import tempfile
import unittest

from harness import BIN, Service, free_port

# (flag, environment variable, smallest accepted, largest accepted)
NUMERIC = [
    ("--port", "PORT", 1, 65535),
    ("--io-threads", "IMAGE_IO_THREADS", 0, 256),
    ("--max-connections", "IMAGE_MAX_CONNECTIONS", 1, 1000000),
    ("--max-body-bytes", "IMAGE_MAX_BODY_BYTES", 1, 1 << 30),
    ("--max-header-bytes", "IMAGE_MAX_HEADER_BYTES", 1024, 1 << 20),
    ("--header-timeout", "IMAGE_HEADER_TIMEOUT", 1, 3600),
    ("--idle-timeout", "IMAGE_IDLE_TIMEOUT", 1, 86400),
    ("--body-timeout", "IMAGE_BODY_TIMEOUT", 1, 86400),
    ("--shutdown-timeout", "IMAGE_SHUTDOWN_TIMEOUT", 1, 3600),
    ("--jpeg-quality", "IMAGE_JPEG_QUALITY", 1, 100),
    ("--max-pixels", "IMAGE_MAX_PIXELS", 1, 1000000000),
    ("--max-frames", "IMAGE_MAX_FRAMES", 1, 100000),
    ("--max-render-ms", "IMAGE_MAX_RENDER_MS", 1, 3600000),
    ("--workers", "IMAGE_WORKERS", 0, 1024),
    ("--queue-limit", "IMAGE_QUEUE_LIMIT", 0, 100000),
    ("--cache-mb", "IMAGE_CACHE_MB", 0, 1 << 20),
    ("--lmdb-map-size", "IMAGE_LMDB_MAP_SIZE", 1 << 20, 1 << 44),
    ("--redis-port", "REDIS_PORT", 1, 65535),
    ("--redis-connect-timeout-ms", "IMAGE_REDIS_CONNECT_TIMEOUT_MS", 1, 600000),
    ("--redis-command-timeout-ms", "IMAGE_REDIS_COMMAND_TIMEOUT_MS", 1, 600000),
    ("--redis-wait-replicas", "IMAGE_REDIS_WAIT_REPLICAS", 0, 100),
    ("--auth-timeout-ms", "IMAGE_AUTH_TIMEOUT_MS", 1, 600000),
    ("--auth-cache-ttl", "IMAGE_AUTH_CACHE_TTL", 1, 2592000),
    ("--auth-cache-size", "IMAGE_AUTH_CACHE_SIZE", 1, 100000000),
]

# (flag, environment variable, accepted words) of the settings that name a choice.
CHOICES = [
    ("--auth-mode", "IMAGE_AUTH_MODE", "remote, static"),
    ("--log-format", "IMAGE_LOG_FORMAT", "text, json"),
    ("--log-level", "IMAGE_LOG_LEVEL", "trace, debug, info, warn, error, critical, off"),
    ("--private-reads", "IMAGE_PRIVATE_READS", "true, false"),
    ("--redis-write-data-urls", "IMAGE_REDIS_WRITE_DATA_URLS", "true, false"),
]

# Every form a number must not take; strtol and friends accept most of them.
NOT_NUMBERS = ["abc", "-1", "+1", "-0", "0x10", "010x", "1.5", "1e3", "1,000", " 1", "1 ",
               "\t1", "1\n", "\u0661", "18446744073709551616", "99999999999999999999999"]
# Per setting (the parser is one function, tested form by form in the unit tests and here on
# --port), shared between the flag and the variable to keep the run short: each gets a word or
# hex, a sign or 2^64, and both get the values just outside the range.
FLAG_NOT_NUMBERS = ["abc", "-1"]
ENV_NOT_NUMBERS = ["0x10", "18446744073709551616"]

SETTING_VARIABLES = [env for _, env, _, _ in NUMERIC] + [env for _, env, _ in CHOICES] + [
    "SERVER_PORT", "IMAGE_SIZES", "IMAGE_TOKENS_FILE", "REDIS_URL"]

CRASH_MARKERS = ("terminate called", "core dumped", "AddressSanitizer", "runtime error",
                 "Aborted", "what():")


def clean_environment(**values):
    env = {k: v for k, v in os.environ.items() if k not in SETTING_VARIABLES}
    env.update(values)
    return env


class BadSettingsTest(unittest.TestCase):
    """The binary with one bad value: exit 2 at once, one line naming the setting."""

    @classmethod
    def setUpClass(cls):
        if not BIN or not os.access(BIN, os.X_OK):
            raise unittest.SkipTest("IMAGECPP_BIN is not an executable: %r" % BIN)
        cls.tmp = tempfile.TemporaryDirectory(prefix="imagecpp-settings-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.tokens = os.path.join(cls.tmp.name, "tokens.txt")
        with open(cls.tokens, "w") as f:
            f.write("tok-1 user-1\n")

    def run_binary(self, args=(), env=None, port_flag=True):
        """(exit code, output) of the binary; a value wrongly accepted starts the service, which
        the timeout then stops (and the exit code says so). The flags given here are left out
        when the test sets that setting (a flag wins over its variable)."""
        command = [BIN, "--bind", "127.0.0.1", "--data-dir", os.path.join(self.tmp.name, "d")]
        if "IMAGE_AUTH_MODE" not in (env or {}) and not any("--auth-mode" in a for a in args):
            command += ["--auth-mode", "static", "--tokens-file", self.tokens]
        if port_flag:
            command += ["--port", str(free_port())]
        try:
            done = subprocess.run(command + list(args), env=clean_environment(**(env or {})),
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        except subprocess.TimeoutExpired as e:
            return "still running", (e.stdout or b"").decode(errors="replace")
        return done.returncode, (done.stdout + done.stderr).decode(errors="replace")

    def assertRefused(self, result, names, accepted, context):
        code, output = result
        self.assertEqual(code, 2, "%s: %r" % (context, output))
        for marker in CRASH_MARKERS:
            self.assertNotIn(marker, output, context)
        lines = output.strip("\n").split("\n")
        self.assertEqual(len(lines), 1, "%s: %r" % (context, output))
        for name in names:
            self.assertIn(name, lines[0], context)
        self.assertIn(accepted, lines[0], context)
        self.assertNotRegex(lines[0], r"[\x00-\x08\x0b-\x1f\x7f]", context)

    def run_all(self, cases):
        """cases: (context, args, env, port_flag, names, accepted); run a few at a time."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            futures = [(case, pool.submit(self.run_binary, case[1], case[2], case[3]))
                       for case in cases]
            for (context, _, _, _, names, accepted), future in futures:
                with self.subTest(context):
                    self.assertRefused(future.result(), names, accepted, context)

    def numeric_cases(self, flag, env, low, high, flag_forms, env_forms):
        edges = [str(high + 1)] + ([str(low - 1)] if low > 0 else [])
        accepted = "a whole number in %d..%d" % (low, high)
        # The port flag is left out when the port itself is under test: the flag would win.
        is_port = flag == "--port"
        for value in list(flag_forms) + edges:
            yield ("%s %r" % (flag, value), [flag, value], {}, not is_port, [flag], accepted)
        for value in list(env_forms) + edges:
            # (An empty variable counts as unset, as the peers read theirs: not a case here.)
            yield ("%s=%r" % (env, value), [], {env: value}, not is_port, [flag, env], accepted)

    def test_every_numeric_setting_refuses_bad_values_by_flag_and_by_environment(self):
        cases = []
        for flag, env, low, high in NUMERIC:
            cases += self.numeric_cases(flag, env, low, high, FLAG_NOT_NUMBERS, ENV_NOT_NUMBERS)
        self.run_all(cases)

    def test_every_form_that_is_not_plain_digits_is_refused(self):
        cases = list(self.numeric_cases("--port", "PORT", 1, 65535, NOT_NUMBERS + [""],
                                        NOT_NUMBERS))
        cases += [("SERVER_PORT=%r" % v, [], {"SERVER_PORT": v}, False, ["--port", "SERVER_PORT"],
                   "1..65535") for v in ("abc", "-1", "0", "65536", "70000", "0x10")]
        self.run_all(cases)

    def test_sizes_list_items_are_each_checked(self):
        cases = []
        for value in ("160,abc", "160,,320", "160,", "0", "10001", "160,-1", "160, 320", "0x10"):
            for by_env in (False, True):
                args, env = ([], {"IMAGE_SIZES": value}) if by_env else (["--sizes", value], {})
                names = ["--sizes", "IMAGE_SIZES"] if by_env else ["--sizes"]
                cases.append(("sizes %r env=%s" % (value, by_env), args, env, True, names,
                              "1..10000"))
        self.run_all(cases)

    def test_choices_refuse_unknown_names(self):
        cases = []
        for flag, env, accepted in CHOICES:
            for value in ("bogus", "\x1b[2J"):
                cases.append(("%s %r" % (flag, value), ["%s=%s" % (flag, value)], {}, True,
                              [flag], accepted))
                cases.append(("%s=%r" % (env, value), [], {env: value}, True, [flag, env],
                              accepted))
        self.run_all(cases)

    def test_the_bad_value_is_echoed_escaped(self):
        code, output = self.run_binary(["--max-frames", "7\x1b[2J\x07"])
        self.assertEqual(code, 2, output)
        self.assertNotIn("\x1b", output)
        self.assertIn("7\\x1b[2J\\x07", output)

    def test_help_states_every_range(self):
        done = subprocess.run([BIN, "--help"], capture_output=True, timeout=30,
                              env=clean_environment())
        self.assertEqual(done.returncode, 0)
        text = re.sub(r"\s+", " ", done.stdout.decode())
        for flag, env, low, high in NUMERIC:
            with self.subTest(flag):
                self.assertRegex(text, r"%s NUMBER=\S+ \(Env:%s\) .*?\[%d\.\.%d\]"
                                 % (re.escape(flag), env, low, high))


class GoodBoundariesTest(unittest.TestCase):
    """Every numeric setting at each end of its range: the service starts, serves and stops
    with 0. All at their minimum by flag in one service, all at their maximum by environment
    in another (the settings are independent, and a start under ASan takes seconds)."""

    def start(self, args=(), env=None):
        saved = {k: os.environ.get(k) for k in SETTING_VARIABLES}
        for name in SETTING_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(env or {})
        try:
            svc = Service(list(args))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.addCleanup(svc.close)
        return svc

    def assertServesAndStops(self, svc, log_pattern):
        status, _, body = svc.request("GET", "/readyz")
        self.assertEqual(status, 200, body)
        # (The line follows the start of the listener: it may come just after a first answer.)
        self.assertTrue(svc.wait_for_log(log_pattern), svc.log()[-2000:])
        self.assertEqual(svc.stop(signal.SIGTERM), 0, svc.log()[-2000:])
        for marker in CRASH_MARKERS:
            self.assertNotIn(marker, svc.log())

    def test_all_at_their_minimum_by_flag(self):
        args = []
        for flag, _, low, _ in NUMERIC:
            if flag != "--port":  # the harness gives a free one
                args += [flag, str(low)]
        svc = self.start(args)
        cores = os.cpu_count()
        # 0 io threads and 0 workers mean one per core.
        self.assertServesAndStops(svc, "%d io threads, %d image workers" % (cores, cores))

    def test_all_at_their_maximum_by_environment(self):
        env = {env: str(high) for flag, env, _, high in NUMERIC if flag != "--port"}
        svc = self.start([], env)
        self.assertServesAndStops(svc, "256 io threads, 1024 image workers")

    def test_port_at_the_top_of_its_range_from_the_environment(self):
        # (The bottom, 1, needs privileges to bind; the unit tests cover it.)
        with tempfile.TemporaryDirectory() as tmp:
            tokens = os.path.join(tmp, "t")
            with open(tokens, "w") as f:
                f.write("tok-1 user-1\n")
            proc = subprocess.Popen(
                [BIN, "--bind", "127.0.0.1", "--auth-mode", "static", "--tokens-file", tokens,
                 "--data-dir", os.path.join(tmp, "d")],
                env=clean_environment(PORT="65535"), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT)
            try:
                line = proc.stdout.readline().decode()
                if "in use" in line.lower():
                    self.skipTest("port 65535 is taken on this machine")
                self.assertIn("listening on http://127.0.0.1:65535 ", line)
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(30), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()

if __name__ == "__main__":
    unittest.main()

"""One JVM per environment, reached through py4j, that never outlives its Python process.

ScienceWorld and TextWorldExpress are Scala simulators with a `PythonInterface` class. Their own
Python wrappers start a JVM with no heap cap, leave it to `__del__` to stop it, and fail with a
py4j stack trace when Java is missing. `JavaSimulator` fixes those three things:

- the heap is capped (`-Xmx`, serial GC), configurable per env and by `TEXTGYM_JAVA_OPTS`;
- the JVM is started with py4j's `--die-on-broken-pipe`, so it exits as soon as the pipe to its
  parent closes, which the kernel does even when the parent is killed with SIGKILL; it runs in its
  own process group, so a Ctrl-C meant for Python does not kill it mid-step;
- a missing `java` raises `JavaNotFoundError` saying what to install, and a JVM that died raises
  `SimulatorCrashedError` with its exit code and last stderr lines instead of a socket error.

It also makes long replies fast. py4j's server writes a reply through an 8 KB buffer with Nagle's
algorithm on, so any reply over 8 KB (a ScienceWorld state's admissible commands are 10-200 KB)
waited ~40 ms for a delayed acknowledgement: most of what admissible commands cost. The JVM runs
`java/TextgymGateway.java` instead (py4j's server with TCP_NODELAY), compiled with the JDK's
`javac` on first use and cached, together with a family's own Java fast paths (`helpers`, e.g.
ScienceWorld's `ScienceWorldBridge`). With no JDK (or `TEXTGYM_JAVA_HELPER=0`) it runs py4j's
stock server, the family uses the simulator's own methods, and `joined` fetches long lists in
pieces that each fit in one write.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import select
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from py4j.java_gateway import GatewayParameters, JavaGateway, find_jar_path
from py4j.protocol import Py4JError

from textgym.cache import cache_dir

DEFAULT_HEAP = "512m"
JAVA_OPTS_VARIABLE = "TEXTGYM_JAVA_OPTS"
HELPER_VARIABLE = "TEXTGYM_JAVA_HELPER"
"""Set to 0 to run py4j's stock gateway server instead of textgym's compiled one."""
GATEWAY_SOURCE = Path(__file__).with_name("java") / "TextgymGateway.java"
GATEWAY_CLASS = "textgym.TextgymGateway"
START_TIMEOUT = 120.0
"""Seconds a JVM may take to print its port before it counts as failed to start."""
SPLIT_REPLY_SIZE = 96
"""Strings per reply where `joined` keeps replies under py4j's 8 KB buffer (stock server): commands
are rarely longer than 60 characters, so 96 of them fit."""
_HEAP_PATTERN = re.compile(r"[1-9][0-9]*[kKmMgG]?")
_MIN_HEAP_BYTES = 64 * 2**20


class JavaNotFoundError(RuntimeError):
    """No `java` executable: the Java-backed simulators cannot start."""


class SimulatorCrashedError(RuntimeError):
    """The simulator's JVM died (killed, out of memory, ...). `reset()` starts a new one."""


def find_java() -> str:
    """Path of the `java` executable ($JAVA_HOME first, then $PATH), or a clear error."""
    java_home = os.environ.get("JAVA_HOME")
    candidates = [os.path.join(java_home, "bin", "java")] if java_home else []
    candidates.append(shutil.which("java") or "")
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise JavaNotFoundError(
        "ScienceWorld and TextWorldExpress run on a Java virtual machine, and no `java` executable "
        "was found (searched $JAVA_HOME/bin and $PATH). Install a Java runtime, version 11 or "
        "newer, e.g. `sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu), "
        "`brew install openjdk@17` (macOS) or `conda install -c conda-forge openjdk=17`, "
        "or set JAVA_HOME to an existing installation."
    )


DETERMINISTIC_HASHES = ["-XX:+UnlockExperimentalVMOptions", "-XX:hashCode=2"]
"""Constant identity hash codes. Simulators that iterate hash sets of objects (ScienceWorld 1.2.x)
then list and update objects in insertion order instead of an order that changes from run to run."""


def check_heap(heap: object) -> str:
    """`heap` if it is a JVM heap size (`-Xmx` syntax) of at least 64 MB, else a `ValueError`.

    >>> check_heap("1g")
    '1g'
    >>> check_heap("lots")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: jvm_heap must be a size such as '512m' or '2g' (...), got 'lots'.
    """
    valid = isinstance(heap, str) and _HEAP_PATTERN.fullmatch(heap)
    if valid:
        scale = {"k": 2**10, "m": 2**20, "g": 2**30}.get(heap[-1].lower(), 1)
        valid = int(heap.rstrip("kKmMgG")) * scale >= _MIN_HEAP_BYTES
    if not valid:
        raise ValueError("jvm_heap must be a size such as '512m' or '2g' (a whole number with an optional "
                         f"k, m or g suffix, at least 64m), got {heap!r}.")
    return heap


def find_javac(java: str) -> str | None:
    """The `javac` of the JDK that `java` belongs to (or on $PATH); None for a runtime without one."""
    beside = Path(os.path.realpath(java)).with_name("javac")
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("javac")


def compiled_helpers(java: str, sources: tuple[Path, ...], classpath: str) -> Path | None:
    """Folder of the compiled `TextgymGateway` and the family's `sources`, built with `javac`
    against py4j and `classpath` on first use, and cached by the hash of the sources and jars;
    None (with a warning) when they cannot be built."""
    if os.environ.get(HELPER_VARIABLE, "1") == "0":
        return None
    sources = (GATEWAY_SOURCE, *sources)
    jars = [find_jar_path(), classpath]
    digest = hashlib.sha1()
    for source in sources:
        digest.update(source.read_bytes())
    for jar in jars:
        digest.update(f"{Path(jar).name}:{os.path.getsize(jar)}".encode())
    target = cache_dir() / "java" / f"helpers-{digest.hexdigest()[:12]}"
    if (target / "textgym").is_dir():
        return target
    javac = find_javac(java)
    problem = "no `javac` found (a Java runtime without the JDK)"
    if javac is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(dir=target.parent, prefix=".build-"))
        try:
            result = subprocess.run([javac, "-nowarn", "--release", "11", "-classpath", os.pathsep.join(jars),
                                     "-d", str(build), *map(str, sources)],
                                    capture_output=True, text=True, timeout=300)
            if result.returncode == 0:
                with contextlib.suppress(OSError):  # another process built it first: keep theirs
                    os.rename(build, target)
                return target
            problem = f"javac failed: {(result.stderr or result.stdout).strip()[-500:]}"
        except (OSError, subprocess.TimeoutExpired) as error:
            problem = f"javac failed: {error}"
        finally:
            shutil.rmtree(build, ignore_errors=True)
    warnings.warn(f"textgym could not build its Java helpers ({problem}); using py4j's stock server and "
                  "the simulator's own methods, with which admissible commands take longer. Install a "
                  "JDK (e.g. openjdk-17-jdk-headless) for full speed.", RuntimeWarning, stacklevel=3)
    return None


def java_options(heap: str, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """JVM flags: a capped heap, the serial collector (2 GC threads would fight the env), `extra`,
    then `$TEXTGYM_JAVA_OPTS`."""
    options = [f"-Xmx{heap}", "-XX:+UseSerialGC", *extra]
    return options + shlex.split(os.environ.get(JAVA_OPTS_VARIABLE, ""))


class JavaSimulator:
    """A JVM running `entry_class` (a simulator's PythonInterface), started on demand.

    Args:
        name: the simulator's name, for error messages.
        classpath: the simulator's jar.
        entry_class: dotted name of the class to instantiate in the JVM.
        heap: the JVM's maximum heap (`-Xmx`), e.g. "512m".
        cwd: working directory of the JVM (simulators read resources relative to it).
        options: more JVM flags (e.g. `DETERMINISTIC_HASHES`).
        helpers: Java sources of the family's fast paths, compiled with the gateway (see
            `compiled_helpers`); `helpers_loaded` says whether they are on this JVM's classpath.
    """

    def __init__(self, name: str, classpath: str, entry_class: str, heap: str = DEFAULT_HEAP,
                 cwd: str | None = None, options: list[str] | tuple[str, ...] = (),
                 helpers: tuple[Path, ...] = ()) -> None:
        self.name = name
        self.classpath = classpath
        self.entry_class = entry_class
        self.heap = check_heap(heap)
        self.cwd = cwd
        self.options = tuple(options)
        self.helpers = tuple(helpers)
        self.helpers_loaded = False
        self._classes: dict[str, Any] = {}
        self._gateway: JavaGateway | None = None
        self._process: subprocess.Popen | None = None
        self._server: Any = None
        self._stderr: Any = None  # a temporary file: the JVM writes its stderr there directly
        self._finalizer: weakref.finalize | None = None
        self._join: Any = None

    @contextlib.contextmanager
    def calls(self) -> Iterator[Any]:
        """The simulator's PythonInterface object; py4j failures of a dead JVM become
        `SimulatorCrashedError`.

            with simulator.calls() as server:
                observation = server.step("look around")
        """
        if self._server is None or not self.alive:
            raise SimulatorCrashedError(self._death_message())
        try:
            yield self._server
        except Py4JError as error:
            if self.alive:
                raise
            raise SimulatorCrashedError(self._death_message()) from error

    def joined(self, strings: Any, separator: str = "\n") -> str:
        """A Java list of strings as one string, joined in the JVM: one round trip instead of one
        per element (py4j's `list(...)` of a 5k-command list takes seconds), or a few short ones
        on py4j's stock server (see the module docstring)."""
        if self.helpers_loaded:
            return self._join(separator, strings)
        size = strings.size()
        pieces = (strings.subList(start, min(start + SPLIT_REPLY_SIZE, size))
                  for start in range(0, size, SPLIT_REPLY_SIZE))
        return separator.join(self._join(separator, piece) for piece in pieces)

    def java_class(self, name: str) -> Any:
        """The Java class `name` (e.g. "textgym.ScienceWorldBridge"), looked up once per JVM."""
        if name not in self._classes:
            class_ = self._gateway.jvm
            for part in name.split("."):
                class_ = getattr(class_, part)
            self._classes[name] = class_
        return self._classes[name]

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start a fresh JVM (closing a dead or live previous one first)."""
        self.close()
        java = find_java()
        classes = compiled_helpers(java, self.helpers, self.classpath)
        classpath = [find_jar_path(), self.classpath]
        if classes is None:
            main = ["py4j.GatewayServer", "--die-on-broken-pipe", "0"]
        else:
            classpath.insert(0, str(classes))
            main = [GATEWAY_CLASS]
        self.helpers_loaded = classes is not None
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - open while the JVM lives; close() closes it
        # Its own session: a Ctrl-C meant for Python does not reach it. Both servers print their
        # port, then exit when stdin closes (the parent died or `close()` closed it).
        process = subprocess.Popen(
            [java, *java_options(self.heap, self.options), "-classpath", os.pathsep.join(classpath), *main],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=self.cwd,
            start_new_session=True)
        port = self._read_port(process)
        threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
        self._process = process
        self._gateway = JavaGateway(gateway_parameters=GatewayParameters(port=port, auto_field=True),
                                    java_process=process)
        self._finalizer = weakref.finalize(self, _shutdown, self._gateway, process)
        self._classes = {}
        self._server = self.java_class(self.entry_class)()
        self._join = self._gateway.jvm.java.lang.String.join  # looked up once: 2 round trips a call

    def close(self) -> None:
        """Stop the JVM. Safe to call any number of times."""
        if self._finalizer is not None:
            self._finalizer()
        self._finalizer = self._gateway = self._process = self._server = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _read_port(self, process: subprocess.Popen) -> int:
        """The port the JVM prints; a JVM that exits or stalls instead is a clear error. Lines
        before it (HotSpot prints its warnings on stdout) go into that error."""
        deadline = time.monotonic() + START_TIMEOUT
        printed: list[str] = []
        while (wait := deadline - time.monotonic()) > 0 and select.select([process.stdout], [], [], wait)[0]:
            line = process.stdout.readline()
            if not line:  # end of file: the JVM exited
                break
            text = line.decode(errors="replace").strip()
            if text.isdigit():
                return int(text)
            printed.append(text)
        else:
            printed.append(f"no port within {START_TIMEOUT:g} s")
        _stop(process)
        lines = [*printed, self._stderr_tail()]
        self._stderr.close()
        self._stderr = None
        raise SimulatorCrashedError(f"The {self.name} JVM failed to start: "
                                    + " | ".join(text for text in lines if text))

    def _death_message(self) -> str:
        if self._process is None:
            return f"The {self.name} JVM is not running: call reset() to start it."
        message = (f"The {self.name} JVM (pid {self.pid}) exited with code {self._process.poll()}; "
                   "the episode is lost. Call reset() to start a new JVM.")
        if tail := self._stderr_tail():
            message += f" Its last output: {tail}"
        return message

    def _stderr_tail(self, lines: int = 20) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace")
        return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())


def _drain(stream: Any) -> None:
    """Read and drop what the simulator prints on stdout, so a full pipe never blocks the JVM."""
    with contextlib.suppress(OSError, ValueError):
        while stream.read(65536):
            pass


def _shutdown(gateway: JavaGateway, process: subprocess.Popen) -> None:
    """Ask the JVM to stop, then make sure it did (py4j's shutdown alone can leave it running)."""
    with contextlib.suppress(Exception):  # the JVM may be gone already; stopping it is what matters
        gateway.shutdown()
    _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """End the JVM: EOF on its stdin (its server exits then), else SIGKILL after 5 seconds."""
    if process.poll() is None:
        try:
            process.stdin.close()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()


class JavaBacked:
    """Mixin for an env whose simulator is `self._simulator`: its JVM's `pid`, and `close()`."""

    _simulator: JavaSimulator

    @property
    def pid(self) -> int | None:
        """Process id of this env's JVM (None until the first reset)."""
        return self._simulator.pid

    def close(self) -> None:
        self._simulator.close()

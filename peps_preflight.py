"""Startup check of the PEPS suite: the right Python, with the two modules it needs.

Each script imports this module first, before ``peps_common``: a Python older than
3.9, or one without ``requests`` or ``python-dateutil`` (a script run in place with a
system ``python`` rather than the venv's), then gets one line on stderr saying what to
install or which Python to use, and exit status 2, instead of a traceback.

Standard library only, and written so that old Pythons can still parse it (no
f-strings, no annotations): it must get to say its line where the rest would not.
"""

import os
import sys

MIN_PYTHON = (3, 9)

#: peps_common.ExitStatus.BAD_INPUT (peps_common itself cannot be imported yet).
BAD_INPUT = 2

#: (module to import, package that provides it), as in requirements.txt.
REQUIRED = (("requests", "requests"), ("dateutil.parser", "python-dateutil"))


def _program():
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name and name != "-c" else "peps-suite"


def _requirements():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")
    if not os.path.isfile(path):  # an installed copy: no requirements.txt beside it
        return None
    if os.path.dirname(path) == os.path.abspath(os.getcwd()):
        return "requirements.txt"
    return path


def _dotted(version):
    return ".".join(str(part) for part in version)


def problem(version=None, modules=REQUIRED):
    """The one-line complaint about this Python, or None when it can run the suite.

    ``version`` is a ``sys.version_info``-like tuple (the running one by default);
    ``modules`` is checked only when the version is good enough.
    """
    version = tuple(sys.version_info[:3]) if version is None else tuple(version)
    program = _program()
    python = sys.executable or "python3"
    if version[:2] < MIN_PYTHON:
        return (program + ": error: needs Python " + _dotted(MIN_PYTHON) + " or newer, this is Python "
                + _dotted(version) + " (" + python + "): run it with python3.9 or newer")
    for module, package in modules:
        try:
            __import__(module)
        except Exception as error:  # a broken install must not end in a traceback either
            name = module.split(".")[0]
            reason = " ".join(str(error).split()) or type(error).__name__
            origin = "" if name == package else ", from the package " + package
            requirements = _requirements()
            what = "-r " + requirements if requirements else " ".join(pkg for _, pkg in modules)
            pip = python + " -m pip" if os.path.basename(python).startswith("python") else "pip"
            return (program + ": error: " + python + " cannot import " + name + " (" + reason + ")"
                    + origin + ": install the suite's requirements with '" + pip + " install " + what
                    + "', or run the script with the python of a venv that has them")
    return None


def check(version=None, modules=REQUIRED):
    """Exit with one line on stderr and status 2 when this Python cannot run the suite."""
    message = problem(version, modules)
    if message:
        sys.stderr.write(message + "\n")
        sys.exit(BAD_INPUT)


check()

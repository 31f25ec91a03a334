"""Bindings of the F3 run variants (FIDELITY §1, §4, issue 14 item 2)."""


def split(text):
    return text.split("\n")


def keep(lines):
    if not isinstance(lines, list):
        return []
    return [line for line in lines if not line.startswith("#")]


def length(line):
    return len(line) if isinstance(line, str) else -1


def reply(m):
    return "re: " + m


def follow(m):
    return m + "!"


def done(m, ms):
    return len(ms) >= 3


def again(x):
    return x


def count(ms, _slow):
    return len(ms)


def pair(m):
    return [m, m + "?"]


def words(_text):
    return ["a", "b", "a", ["c", "d"]]


def no(_x):
    return False


def shout(x):
    return x.upper()


def both(notes, log):
    return {"notes": notes, "log": log}

#!/usr/bin/env python3
"""Instructions per call of one function, from a callgrind output file.

    valgrind --tool=callgrind --callgrind-out-file=OUT BENCH --bench --profile-time 1 FILTER
    bench/instructions.py OUT FUNCTION

FUNCTION is a callgrind function name (e.g. `guard::guard`, the benchmark's guard). The answer is
the inclusive instructions of every call to it divided by the number of those calls, read from
the `calls=` lines of its call sites: deterministic, unlike the clock on a shared machine.
"""
import re
import sys


def per_call(path, function):
    names = {}
    calls = 0
    inclusive = 0
    current_callee = None
    pending_calls = None
    with open(path) as out:
        for line in out:
            match = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if match:
                kind, ident, name = match.groups()
                if name is not None:
                    names[ident] = name
                if kind == "cfn":
                    current_callee = names.get(ident)
                continue
            if line.startswith("calls="):
                pending_calls = int(line.split()[0][len("calls="):])
                continue
            if pending_calls is not None:
                # The line after `calls=` is the call's position and its inclusive cost.
                if current_callee == function:
                    calls += pending_calls
                    inclusive += int(line.split()[1])
                pending_calls = None
    return calls, inclusive


def main():
    path, function = sys.argv[1], sys.argv[2]
    calls, inclusive = per_call(path, function)
    if calls == 0:
        sys.exit(f"no call of {function} in {path}")
    print(f"{function}: {inclusive / calls:.0f} instructions per call ({calls} calls)")


if __name__ == "__main__":
    main()

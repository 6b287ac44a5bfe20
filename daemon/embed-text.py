#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Embed a text file as a NUL-terminated C char array: embed-text.py NAME INPUT OUTPUT
# (an array, not a string literal: -Woverlength-strings limits literals to 4095 bytes)
import sys

name, src, dst = sys.argv[1:4]
data = open(src, "rb").read() + b"\0"
with open(dst, "w", encoding="ascii") as f:
    f.write("/* Generated from %s by embed-text.py. */\n" % src.rsplit("/", 1)[-1])
    f.write("extern const char %s[];\nconst char %s[] = {\n" % (name, name))
    for i in range(0, len(data), 16):
        f.write("        %s,\n" % ", ".join(str(b) for b in data[i:i + 16]))
    f.write("};\n")

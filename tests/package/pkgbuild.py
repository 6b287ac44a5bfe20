# SPDX-License-Identifier: LGPL-2.1-or-later
"""Building and linting tdsleep's Debian package, shared by tests/package/run (on the
Debian 12 host) and tests/modern/run (inside the Debian 13 tree, with trixie's
debhelper and lintian). Nothing here knows where the commands run: the callers pass a
`runner(cmd, cwd, logpath) -> exit status` that runs them on the host or chrooted."""
import os
import re
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# lintian at its default level must report nothing: no error, no warning.
LINTIAN = ["lintian", "--fail-on", "error,warning", "--display-info", "--show-overrides"]
BUILD = ["dpkg-buildpackage", "-us", "-uc", "-b"]


class BuildError(Exception):
    pass


def source_files():
    """The files of the source tree, as a clean checkout has them (untracked ones that
    git does not ignore included, so that uncommitted work is what gets built)."""
    r = subprocess.run(["git", "-C", REPO, "ls-files", "-co", "--exclude-standard", "-z"],
                       capture_output=True, text=True)
    if r.returncode == 0:
        return [f for f in r.stdout.split("\0") if f and os.path.lexists(os.path.join(REPO, f))]
    # not a git checkout (a release tarball): everything but build directories
    files = []
    for d, dirs, names in os.walk(REPO):
        rel = os.path.relpath(d, REPO)
        dirs[:] = [n for n in dirs if not (rel == "." and (n.startswith("build") or n == ".git"))
                   and n != "__pycache__"]
        files += [os.path.normpath(os.path.join(rel, n)) for n in names
                  if not n.endswith(".pyc") and not (rel == "." and n == ".git")]
    return files


def copy_sources(files, dst):
    """A fresh copy of the source tree at dst (what `dpkg-buildpackage` in a clean
    checkout sees)."""
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    for f in files:
        d = os.path.join(dst, f)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copy2(os.path.join(REPO, f), d, follow_symlinks=False)


def changelog_version(src):
    """debian/changelog's top version (parsed here: the caller's dpkg may be elsewhere)."""
    with open(os.path.join(src, "debian/changelog")) as f:
        m = re.match(r"^\S+ \(([^)]+)\)", f.readline())
    if not m:
        raise BuildError("cannot read the version in %s/debian/changelog" % src)
    return m.group(1)


def add_changelog_entry(src, version):
    """A changelog entry for a higher version, as a maintainer's rebuild has."""
    cl = os.path.join(src, "debian/changelog")
    with open(cl) as f:
        old = f.read()
    who = re.search(r"^ -- (.*?)  ", old, re.M).group(1)
    with open(cl, "w") as f:
        f.write("tdsleep (%s) unstable; urgency=medium\n\n  * Rebuilt by tests/package/run to test "
                "upgrades.\n\n -- %s  %s\n\n%s" % (
                    version, who, time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()), old))


def dpkg_buildpackage(runner, src, out_dir, logpath, no_clean=False):
    """dpkg-buildpackage -us -uc -b in src (its unit suite runs in dh_auto_test); with
    no_clean (-nc) in a tree built before, dh finds its build stamp and only the binary
    steps run again (install, gencontrol with the changelog's version, builddeb).
    Returns (version, deb, changes), paths in out_dir (src's parent as the caller sees it)."""
    version = changelog_version(src)
    rc = runner(BUILD + (["-nc"] if no_clean else []), src, logpath)
    if rc != 0:
        raise BuildError("dpkg-buildpackage%s failed (exit %d); last lines of %s:\n%s" % (
            " -nc" if no_clean else "", rc, logpath, "".join(open(logpath, errors="replace").readlines()[-40:])))
    deb = os.path.join(out_dir, "tdsleep_%s_amd64.deb" % version)
    changes = os.path.join(out_dir, "tdsleep_%s_amd64.changes" % version)
    if not os.path.exists(deb):
        raise BuildError("dpkg-buildpackage made no %s" % deb)
    return version, deb, changes


def bump(runner, src, out_dir, logpath, version):
    """The package again with a higher version, from the tree dpkg_buildpackage built:
    only the changelog differs (what a rebuild of the same sources with a new changelog
    entry gives, without compiling and testing again)."""
    add_changelog_entry(src, version)
    return dpkg_buildpackage(runner, src, out_dir, logpath, no_clean=True)


def lintian_result(rc, out):
    """(rc, full output, the tag lines) of a lintian run."""
    out = out.strip()
    return rc, out, [line for line in out.splitlines() if re.match(r"^[EWIPXO]: ", line)]


def host_runner(cmd, cwd, logpath, env=None):
    with open(logpath, "w") as lf:
        return subprocess.run(cmd, cwd=cwd, stdout=lf, stderr=subprocess.STDOUT, env=env,
                              stdin=subprocess.DEVNULL, timeout=900).returncode


def build_and_lint(work, build_dir, log):
    """tests/package/run on the host: the package built in a fresh copy of the sources
    in work/src, then twice more with higher versions for the upgrades (bumped in the
    built tree: no second compile), while lintian checks the first.
    Returns ([(version, deb)...], lint) for report_lintian."""
    src = os.path.join(work, "src")
    t = time.monotonic()
    copy_sources(source_files(), src)
    v1, deb1, changes1 = dpkg_buildpackage(host_runner, src, work, os.path.join(work, "build-src.log"))
    print("PASS 0 build (%.1fs) dpkg-buildpackage -us -uc -b -> %s" % (
        time.monotonic() - t, os.path.relpath(deb1, build_dir)))
    sys.stdout.flush()
    lint = {}

    def run_lintian():
        t0 = time.monotonic()
        r = subprocess.run(LINTIAN + [changes1], capture_output=True, text=True, timeout=600)
        lint["result"] = lintian_result(r.returncode, r.stdout + r.stderr)
        lint["seconds"] = time.monotonic() - t0

    lint_thread = threading.Thread(target=run_lintian, name="lintian")
    lint_thread.start()
    t = time.monotonic()
    try:
        built = [(v1, deb1)]
        for n in (1, 2):
            v, deb, _ = bump(host_runner, src, work, os.path.join(work, "build-v%d.log" % (n + 1)),
                             "%s+pkgtest%d" % (v1, n))
            built.append((v, deb))
    finally:
        lint_thread.join()
    log("%s for the upgrades: bumped and packed again in %.1fs" % (
        " and ".join(v for v, _ in built[1:]), time.monotonic() - t))
    return built, lint


def report_lintian(lint, passed, failed):
    """Print lintian's PASS/FAIL line (with every tag) and count it."""
    rc, out, tags = lint["result"]
    if rc != 0:
        failed.append("lintian")
        print("FAIL 0 lintian (%.1fs) exit %d:\n  %s" % (lint["seconds"], rc, out.replace("\n", "\n  ")))
    else:
        passed.append("lintian")
        print("PASS 0 lintian (%.1fs) no error, no warning; informational and overridden tags:\n  %s" % (
            lint["seconds"], "\n  ".join(tags) if tags else "(none)"))

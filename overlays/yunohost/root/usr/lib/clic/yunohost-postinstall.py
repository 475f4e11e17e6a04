#!/usr/bin/python3
# yunohost-postinstall.py (layer yunohost): `yunohost tools postinstall`
# through YunoHost's Python API, so that the admin password never appears
# on a command line (/proc/PID/cmdline is readable by every user): it is
# read here from the root-only file the firstboot layer made.
#   yunohost-postinstall.py SECRET_FILE DOMAIN USERNAME FULLNAME
# The context is set up the way YunoHost's own test suite does it
# (yunohost.init(), a non-interactive CLI interface). Written for
# YunoHost 12; NOT run on a real YunoHost by clic's tests (see
# clic-yunohost).
import sys


class Quiet:
    """Moulinette's interface for a script: prints, never prompts."""

    type = "cli"

    def prompt(self, *args, **kwargs):
        raise RuntimeError("yunohost asked a question; nobody is there to answer")

    def display(self, message, *args, **kwargs):
        print(message)


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: yunohost-postinstall.py SECRET_FILE DOMAIN USERNAME FULLNAME")
    secret, domain, username, fullname = sys.argv[1:]
    with open(secret, encoding="utf-8") as f:
        password = f.read().strip()
    if not password:
        sys.exit(f"no password in {secret}")
    import yunohost
    from moulinette import Moulinette

    lock = yunohost.init(interface="cli")
    Moulinette._interface = Quiet()
    try:
        from yunohost.tools import tools_postinstall

        tools_postinstall(
            domain=domain,
            username=username,
            fullname=fullname,
            password=password,
            ignore_dyndns=True,
            force_diskspace=True,
        )
    finally:
        lock.release()


if __name__ == "__main__":
    main()

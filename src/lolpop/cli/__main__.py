"""``python -m lolpop.cli`` is the ``lolpop`` command."""

from lolpop.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="lolpop")

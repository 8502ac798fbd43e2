"""A generated section of README.md: the lines between a script's two marker comments, written by
the script's `update` and compared by its `check`."""
import pathlib

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def section(begin, end, body):
    return f"{begin}\n{body}{end}"


def is_current(begin, end, body):
    return section(begin, end, body) in README.read_text()


def write(begin, end, body):
    text = README.read_text()
    start, stop = text.index(begin), text.index(end) + len(end)
    README.write_text(text[:start] + section(begin, end, body) + text[stop:])

"""Rebuild the knowledge documents of the answer benchmark's sets from fetched copies of their sources.

    python benchmarks/data/answers/derive.py --logingov GIT_DIR --ente GIT_DIR --syncthing GIT_DIR \
        [--xquad GIT_DIR]

GIT_DIR is a bare clone (e.g. /work/.mirror/GSA-TTS+identity-site/repo); files are read with
`git show COMMIT:PATH`, so the output depends only on the commits pinned below. The questions
(`questions.jsonl`) are written by hand and not touched, except the `xquad` set's, which are XQuAD's own
(its documents and questions both come from the pinned commit). See README.md.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

HERE = Path(__file__).resolve().parent

LOGINGOV_COMMIT = "7bc713b98bef38f5cec7668726013a53d8a53a94"  # GSA-TTS/identity-site, 2026-08-05
# help page -> the format it is stored in: most as Markdown, some as the HTML page a business might save.
LOGINGOV_PAGES = {
    "trouble-signing-in/forgot-your-password": "html",
    "trouble-signing-in/why-is-my-account-locked": "md",
    "manage-your-account/delete-your-account": "html",
    "manage-your-account/change-your-email-address": "md",
    "manage-your-account/deactivated": "md",
    "verify-your-identity/accepted-id-type": "md",
    "verify-your-identity/verify-your-address-by-mail": "md",
    "verify-your-identity/verify-your-identity-in-person": "html",
}
ENTE_COMMIT = "a621d733154a834f23754e7e874de769be532d9d"  # ente-io/ente, 2026-07-01
ENTE_PAGES = {
    "docs/docs/photos/faq/sharing-and-collaboration.md": "md",
    "docs/docs/photos/faq/storage-and-plans.md": "html",
}
SYNCTHING_COMMIT = "766daa6e2b02f68dacc98eccbe49663b6168cbfd"  # syncthing/docs, 2026-07-23
SYNCTHING_FAQ = (
    "users/faq-parts/general.rst",
    "users/faq-parts/usage.rst",
    "users/faq-parts/troubleshooting.rst",
)
SYNCTHING_TEXT = ("users/versioning.rst",)

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_INCLUDE_LIST = re.compile(r"\{%\s*include components/icon-list\.html items=page\.(\w+)[^%]*%\}")
_KRAMDOWN_ATTRIBUTES = re.compile(r"^\{:[^}]*\}\s*$", re.MULTILINE)
_HEADING_ID = re.compile(r"\s*\{#[\w-]+\}\s*$", re.MULTILINE)
_RELATED = re.compile(r"^## Related articles.*\Z", re.MULTILINE | re.DOTALL)


def git_show(git_dir: Path, commit: str, path: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def split_front_matter(source: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(source)
    if not match:
        return {}, source
    return yaml.safe_load(match.group(1)) or {}, source[match.end() :]


def help_page_markdown(source: str, fallback_title: str) -> tuple[str, str]:
    """(title, Markdown) of a Jekyll help page: its lists from the front matter written out, Jekyll and
    kramdown markup and the closing list of related links dropped, the title as a top heading."""
    meta, body = split_front_matter(source)
    title = str(meta.get("title") or fallback_title)
    body = _INCLUDE_LIST.sub(lambda m: "\n".join(f"* {item}" for item in meta.get(m.group(1), [])), body)
    body = _KRAMDOWN_ATTRIBUTES.sub("", body)
    body = _HEADING_ID.sub("", body)
    body = _RELATED.sub("", body)
    if not body.lstrip().startswith("# "):
        body = f"# {title}\n\n{body.strip()}\n"
    return title, re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"


def as_html(title: str, markdown: str) -> str:
    """The page as a saved web page: rendered Markdown (its own HTML kept) in a plain document."""
    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def write_page(folder: Path, stem: str, fmt: str, title: str, markdown: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = as_html(title, markdown) if fmt == "html" else markdown
    (folder / f"{stem}.{fmt}").write_text(text, encoding="utf-8")


def logingov(git_dir: Path) -> None:
    folder = HERE / "logingov" / "docs"
    for page, fmt in LOGINGOV_PAGES.items():
        source = git_show(git_dir, LOGINGOV_COMMIT, f"content/_help/{page}._en.md")
        title, markdown = help_page_markdown(source, page.rsplit("/", 1)[-1])
        write_page(folder, page.rsplit("/", 1)[-1], fmt, title, markdown)


def ente(git_dir: Path) -> None:
    folder = HERE / "ente" / "docs"
    for path, fmt in ENTE_PAGES.items():
        stem = Path(path).stem
        title, markdown = help_page_markdown(git_show(git_dir, ENTE_COMMIT, path), stem)
        write_page(folder, stem, fmt, title, markdown)


_DIRECTIVE = re.compile(r"^\s*\.\. ")
_ROLE = re.compile(r":[a-z:]+:`([^`<]*?)(?:\s*<[^>]*>)?`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`__?")
_UNDERLINE = re.compile(r"^[=\-~^\"'`#*+]{3,}\s*$")


def rst_as_text(source: str) -> str:
    """Help text as a reader sees it: directives and link targets dropped, roles and links as their words."""
    lines = [line for line in source.splitlines() if not _DIRECTIVE.match(line)]
    text = _LINK.sub(r"\1", _ROLE.sub(r"\1", "\n".join(lines)))
    text = re.sub(_UNDERLINE.pattern, "", text, flags=re.MULTILINE)
    return re.sub(r"\n{3,}", "\n\n", text.replace("``", "").replace("**", "")).strip()


def rst_sections(source: str) -> list[tuple[str, str]]:
    """(heading, body) for each heading underlined with '-' (the FAQ's questions)."""
    lines = source.splitlines()
    sections: list[tuple[str, list[str]]] = []
    for index, line in enumerate(lines):
        underlined = index + 1 < len(lines) and re.fullmatch(r"-{3,}\s*", lines[index + 1])
        if underlined and line.strip():
            sections.append((line.strip(), []))
        elif sections and not re.fullmatch(r"-{3,}\s*", line):
            sections[-1][1].append(line)
    return [(heading, rst_as_text("\n".join(body))) for heading, body in sections]


def syncthing(git_dir: Path) -> None:
    """The FAQ as an FAQ sheet (question, answer), and the versioning page as plain text."""
    folder = HERE / "syncthing" / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["question", "answer"])
    for path in SYNCTHING_FAQ:
        for question, answer in rst_sections(git_show(git_dir, SYNCTHING_COMMIT, path)):
            if len(answer.split()) >= 5:  # a bare cross-reference ("conflict-handling") answers nothing
                writer.writerow([rst_as_text(question), answer])
    (folder / "syncthing-faq.csv").write_text(out.getvalue(), encoding="utf-8")
    for path in SYNCTHING_TEXT:
        text = rst_as_text(git_show(git_dir, SYNCTHING_COMMIT, path))
        (folder / f"{Path(path).stem}.txt").write_text(text + "\n", encoding="utf-8")


XQUAD_COMMIT = "7d30520c717524000f0d9d2f9c10a069acd9d285"  # google-deepmind/xquad
XQUAD_LANGUAGES = ("en", "es", "de")  # the questions' languages; the documents are the English paragraphs


def _stable(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)


def xquad(git_dir: Path) -> None:
    """XQuAD: 48 English Wikipedia articles and their questions, translated. A quarter of the articles stay
    out of the documents (their questions are the unanswerable ones); each article's questions go to dev or
    test together, by a hash of its title, so no paragraph is tuned on and reported. One question a
    paragraph (its first), in each language."""
    commit = XQUAD_COMMIT
    by_language = {
        language: json.loads(git_show(git_dir, commit, f"xquad.{language}.json"))["data"]
        for language in XQUAD_LANGUAGES
    }
    folder = HERE / "xquad" / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for position, article in enumerate(by_language["en"]):
        title = article["title"].replace("_", " ")
        split = "dev" if _stable(article["title"]) % 2 == 0 else "test"
        answerable = _stable("unanswerable" + article["title"]) % 4 != 0
        if answerable:
            body = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
            (folder / f"{position:02d}-{re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')}.md").write_text(
                f"# {title}\n\n{body}\n", encoding="utf-8"
            )
        for index, paragraph in enumerate(article["paragraphs"]):
            english = paragraph["qas"][0]
            facts = [english["answers"][0]["text"]] if answerable else []
            for language in XQUAD_LANGUAGES:
                qa = by_language[language][position]["paragraphs"][index]["qas"][0]
                assert qa["id"] == english["id"]
                rows.append(
                    {
                        "id": f"{language}-{english['id']}",
                        "question": qa["question"],
                        "expected_facts": facts,
                        "answerable": answerable,
                        "language": language,
                        "split": split,
                    }
                )
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    (HERE / "xquad" / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--logingov", type=Path, required=True, help="git dir of GSA-TTS/identity-site")
    parser.add_argument("--ente", type=Path, required=True, help="git dir of ente-io/ente")
    parser.add_argument("--syncthing", type=Path, required=True, help="git dir of syncthing/docs")
    parser.add_argument("--xquad", type=Path, help="git dir of google-deepmind/xquad")
    args = parser.parse_args()
    logingov(args.logingov)
    ente(args.ente)
    syncthing(args.syncthing)
    if args.xquad:
        xquad(args.xquad)
    for folder in sorted(HERE.glob("*/docs")):
        files = sorted(folder.iterdir())
        print(f"{folder.parent.name}: {len(files)} documents, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()

"""Rebuild the committed PII samples in this folder from fetched copies of their source repositories.

    python benchmarks/data/pii/derive.py --anonipy GIT_DIR --syncthing GIT_DIR

GIT_DIR is a bare clone (e.g. /work/.mirror/ninakokalj+anonipy-evaluation/repo); files are read with
`git show COMMIT:PATH`, so the output depends only on the commits pinned below. See README.md.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

ANONIPY_COMMIT = "39b04ebfe2a7db2a6dbb3974b3f3a76c3c0f6e20"  # the files were removed from the tip later
ANONIPY_FILES = ("data/test_dataset.json", "data/validation_dataset.json")
ANONIPY_LANGUAGES = {"English": "en", "German": "de", "French": "fr", "Italian": "it", "Dutch": "nl"}

SYNCTHING_COMMIT = "766daa6e2b02f68dacc98eccbe49663b6168cbfd"
# User documentation only; left out: contrib.rst and releases.rst (they list people), config.rst (a
# reference of option names), the REST/protocol specs (developer text, not help-centre text).
SYNCTHING_FILES = (
    "intro/getting-started.rst",
    "intro/gui.rst",
    "users/faq-parts/general.rst",
    "users/faq-parts/usage.rst",
    "users/faq-parts/troubleshooting.rst",
    "users/syncing.rst",
    "users/versioning.rst",
    "users/ignoring.rst",
    "users/security.rst",
    "users/untrusted.rst",
    "users/firewall.rst",
    "users/foldertypes.rst",
    "users/introducer.rst",
    "users/relaying.rst",
    "users/tuning.rst",
    "users/syncthing.rst",
    "users/autostart.rst",
    "users/proxying.rst",
    "users/guilisten.rst",
    "users/reverseproxy.rst",
    "users/crashrep.rst",
    "users/custom-upgrades.rst",
    "users/ldap.rst",
    "users/tunneling.rst",
)

# The source's labels are free text in each language ("person name", "numéro de passeport", ...): a label
# takes the first type whose words it contains. Order matters: "email address" is EMAIL, not ADDRESS;
# "lieu de naissance" (place of birth) is a LOCATION, not a DATE_OF_BIRTH; "nome banca" an ORGANIZATION.
_PLACE = r"lieu|luogo|plaats|place|\bort\b|geburtsort|pays|paese|country|\bland\b"
LABEL_RULES: tuple[tuple[str, str], ...] = (
    ("EMAIL", r"e-?mail|courriel"),
    ("IP", r"\bip\b|ip-ad"),
    ("PHONE", r"phone|telefon|telefoon|téléphone|telefono|\bfax"),
    ("IBAN", r"\biban\b"),
    (
        "CREDIT_CARD",
        r"^(?!.*(brand|marque|marca|vervaldatum|expir|ablauf|scadenza|identit)).*(card number|kartennummer|creditcard ?nummer|carte (bancaire|de crédit)|carta di credito|^kreditkarte$|^credit card$)",
    ),
    ("DATE_OF_BIRTH", rf"^(?!.*({_PLACE}|certific)).*(birth|geburtsdatum|naissance|nascita|geboortedatum)"),
    (
        "USERNAME",
        r"user ?name|gebruikersnaam|benutzername|nom d'utilisateur|nome utente|social media handle|handle de r",
    ),
    (
        "ADDRESS",
        r"postal code|post ?code|postleitzahl|code postal|codice postale|\baddress|adress|adres\b|indirizzo|anschrift|straße|strasse|street|straat|rue\b|via\b",
    ),
    (
        "ID_NUMBER",
        r"passport|passeport|passaporto|paspoort|reisepass|\bssn\b|social security|sécurité sociale|codice fiscale|\btax\b|fiscal|steuer|\bbsn|burgerservicenummer|account number|numéro de compte|numero di conto|rekeningnummer|kontonummer|identity|identit|identifi|certific|driver|licen[cs]e number|patente|rijbewijs|insurance number|versicherungsnummer|polisnummer|klantnummer|customer (id|number)|numero cliente|visa|visum|visto|matricola|document number|numero documento|\bcpf\b|\bcnpj\b|tessera sanitaria|zorgverzekeringsnummer|reservation number|reserveringsnummer|transaction number|transactie ?nummer|fallnummer|dossiernummer|case number|serial number|kennzeichen|targa|license plate|immatriculation",
    ),
    (
        "ORGANIZATION",
        r"^(?!.*(produ|service|dienst|servizio)).*(bank|banca|banque|organi[sz]|company|azienda|entreprise|unternehmen|bedrijf|firma|institu|istitu|hospital|ziekenhuis|krankenhaus|établissement|struttura|clinic|klinik|zorginstelling|university|universit|school|court|gericht|rechtbank|tribunal|insurance company|compagnie|verzekeringsmaatschappij|employer|datore di lavoro|händler|cabinet)",
    ),
    (
        "PERSON",
        r"person|persoon|personne|\bname\b|\bnom\b|\bnome\b|\bnaam\b|patient|patiënt|paziente|client|klant|kunde|prénom|cognome|achternaam|voornaam|nom de famille|vorname|nachname|arzt|doctor|médecin|medico|dokter",
    ),
    (
        "LOCATION",
        rf"city|stadt|ville|città|\bstad\b|{_PLACE}|location|locatie|località|localisation|\bland\b|country|pays|paese|\bstate\b|residenza|residence",
    ),
    (
        "DATE_TIME",
        r"\bdate|datum|\bdata\b|\btime\b|\btijd|uhrzeit|\bora\b|\byear\b|\bjahr\b|\banno\b|\bheure\b",
    ),
)
# Labels naming no identifier ("personal information", "person's occupation") stay out whatever they contain.
LEFT_OUT = re.compile(r"informati|occupation|beroep|beruf|profession|job|role|rol\b|ruolo|titel|title|titre")


def wepos_type(label: str) -> str | None:
    """The benchmark's type for one of the source's labels, or None where it names no identifier."""
    label = " ".join(label.casefold().split())
    if LEFT_OUT.search(label):
        return None
    return next((kind for kind, pattern in LABEL_RULES if re.search(pattern, label)), None)


def git_show(git_dir: Path, commit: str, path: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def token_offsets(text: str, tokens: list[str]) -> list[tuple[int, int]] | None:
    """Each token's character offsets, found in order; None where a token is not in the text as written."""
    offsets, cursor = [], 0
    for token in tokens:
        start = text.find(token, cursor)
        if start < 0:
            return None
        offsets.append((start, start + len(token)))
        cursor = start + len(token)
    return offsets


def spans_of(text: str, row: dict[str, Any]) -> list[dict[str, Any]] | None:
    offsets = token_offsets(text, row["tokenized_text"])
    if offsets is None:
        return None
    spans: dict[tuple[int, int], dict[str, Any]] = {}
    for first, last, label in row["ner"]:
        kind = wepos_type(label)
        if kind is None or not 0 <= first <= last < len(offsets):
            continue
        start, end = offsets[first][0], offsets[last][1]
        while end > start and text[end - 1] in ".,;:!?)":  # tokens such as "456." carry the full stop
            end -= 1
        earlier = spans.get((start, end))
        if earlier is None or _rank(kind) < _rank(earlier["type"]):
            spans[(start, end)] = {"start": start, "end": end, "type": kind, "label": label}
    return sorted(spans.values(), key=lambda s: (s["start"], s["end"]))


def _rank(kind: str) -> int:
    return [k for k, _ in LABEL_RULES].index(kind)


def anonipy_rows(git_dir: Path) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    for path in ANONIPY_FILES:
        for index, row in enumerate(json.loads(git_show(git_dir, ANONIPY_COMMIT, path))):
            lang = ANONIPY_LANGUAGES.get(row["language"])
            text = row["text"]
            spans = spans_of(text, row) if lang else None
            if spans is None or text in seen:
                continue
            seen.add(text)
            split_name = Path(path).stem.replace("_dataset", "")
            yield {
                "id": f"anonipy-{split_name}-{index}",
                "text": text,
                "spans": spans,
                "lang": lang,
                "domain": row["domain"],
            }


_DIRECTIVE = re.compile(r"^\s*\.\. ")
_ROLE = re.compile(r":[a-z:]+:`([^`<]*?)(?:\s*<[^>]*>)?`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`__?")


def rst_as_text(source: str) -> str:
    """Help text as a reader sees it: directives and link targets dropped, roles and links as their words."""
    lines = [line for line in source.splitlines() if not _DIRECTIVE.match(line)]
    text = _LINK.sub(r"\1", _ROLE.sub(r"\1", "\n".join(lines)))
    text = re.sub(r"^[=\-~^\"'`#*+]{3,}\s*$", "", text, flags=re.MULTILINE)  # heading underlines
    return re.sub(r"\n{3,}", "\n\n", text.replace("``", "")).strip()


def syncthing_rows(git_dir: Path) -> Iterator[dict[str, Any]]:
    for path in SYNCTHING_FILES:
        yield {
            "id": f"syncthing-{path.removesuffix('.rst').replace('/', '-')}",
            "text": rst_as_text(git_show(git_dir, SYNCTHING_COMMIT, path)),
            "spans": [],
            "lang": "en",
        }


def write_jsonl(name: str, rows: list[dict[str, Any]]) -> None:
    with (HERE / f"{name}.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{name}: {len(rows)} texts, {sum(len(r['spans']) for r in rows)} spans")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--anonipy", type=Path, required=True, help="git dir of ninakokalj/anonipy-evaluation"
    )
    parser.add_argument("--syncthing", type=Path, required=True, help="git dir of syncthing/docs")
    args = parser.parse_args()
    rows = list(anonipy_rows(args.anonipy))
    write_jsonl("anonipy_en", [r for r in rows if r["lang"] == "en"])
    write_jsonl("anonipy_multilingual", [r for r in rows if r["lang"] != "en"])
    write_jsonl("syncthing_docs", list(syncthing_rows(args.syncthing)))


if __name__ == "__main__":
    main()

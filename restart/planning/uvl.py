"""Read UVL feature models the way real files are written, to learn which feature needs which.

Why our own reader: the reference reads UVL with two regexes (single-line ``A => B`` only), and
the PyPI ``uvlparser`` is GPLv3, pins an ANTLR runtime, takes seconds on big models and rejects
files SPLENT writes (several roots, an empty ``constraints`` section, attributes without commas,
double-quoted attribute values).  This module is a one-pass tokenizer (one compiled regex) and a
recursive-descent parser, stdlib only.

Dialect accepted (a superset of UVL 2 as real files use it):

* sections ``namespace X``, ``include``, ``imports`` (syntax checked, never followed), ``features``,
  ``constraints``; a section keyword alone on its line starts the section (quote a feature
  called ``"features"`` to use it as a name);
* the feature tree by indentation (tabs, spaces or both; a tab counts to the next multiple of
  :data:`TAB_WIDTH` columns), groups ``mandatory``/``optional``/``alternative``/``or``/``[n..m]``
  (empty groups too), several roots, typed features (``Integer x``), ``cardinality [n..m]``,
  quoted (``"a b"``) and dotted (``a.b``) names, attributes ``{k v, flag, nested {..},
  list [..], constraint X, constraints [X, Y]}`` with or without commas;
* constraints with ``! & | => <=>`` (UVL precedence, tightest first; all left-associative),
  parentheses, comparisons, arithmetic and aggregates (``sum(x)``, ``len(x)``...), kept as
  :class:`Other`.  A constraint continues on the next line while a parenthesis is open, or when
  its line ends with a binary operator, or the next line starts with one (``-`` excepted);
* ``//`` and ``/* */`` comments, CRLF or CR line ends, a UTF-8 BOM, no final newline.

Deliberately rejected, with file, line and column: a quoted name holding ``.`` (UVL reads ``.``
as a path: ``model.feature``, ``feature.attribute``), an unquoted name with a space, a feature
declared twice (ambiguous for ordering), a group keyword not under a feature, a feature under a
feature with no group keyword between them.
"""
from __future__ import annotations

import gc
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from restart.errors import ConfigError, UVLSyntaxError

TAB_WIDTH = 4
"""Tab stop for indentation.  4, not 8: SPLENT's ``cms_spl`` mixes 8 spaces and two tabs for one
level, as an editor showing tabs 4 wide writes it."""

# --------------------------------------------------------------------------- public data


@dataclass(frozen=True, slots=True)
class Ref:
    """A feature (or ``feature.attribute``) named in a constraint."""

    name: str


@dataclass(frozen=True, slots=True)
class Not:
    """``!operand``: an exclusion, never an ordering."""

    operand: object


@dataclass(frozen=True, slots=True)
class _Binary:
    left: object
    right: object


@dataclass(frozen=True, slots=True)
class And(_Binary):
    """``left & right``."""


@dataclass(frozen=True, slots=True)
class Or(_Binary):
    """``left | right``."""


@dataclass(frozen=True, slots=True)
class Implies(_Binary):
    """``left => right``: the only shape that can make one feature need another."""


@dataclass(frozen=True, slots=True)
class Equiv(_Binary):
    """``left <=> right``."""


@dataclass(frozen=True, slots=True)
class Other:
    """A comparison or boolean constant, kept as (whitespace-normalised) source text.

    ``refs`` lists every name it mentions (features, attributes, ``a.b`` paths), so callers can
    say what was left out without parsing arithmetic themselves.
    """

    text: str
    refs: tuple[str, ...] = ()


_OPS = {Equiv: ("<=>", 1), Implies: ("=>", 2), Or: ("|", 3), And: ("&", 4)}


def _rank(expr: object) -> int:
    return _OPS[type(expr)][1] if isinstance(expr, _Binary) else 9


def render(expr: object, limit: int | None = None) -> str:
    """UVL text for an expression (nested binaries parenthesised), for notes and messages.

    Iterative, so that a 10,000-term disjunction (real kernel models have them) cannot hit the
    recursion limit; ``limit`` cuts the text (ending it with "…") without rendering the rest.
    """
    out: list[str] = []
    size = 0
    stack = [expr]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            piece = item
        elif isinstance(item, Ref):
            piece = item.name if _PLAIN_NAME.fullmatch(item.name) else f'"{item.name}"'
        elif isinstance(item, Other):
            piece = item.text
        elif isinstance(item, Not):
            binary = isinstance(item.operand, _Binary)
            stack.extend((")", item.operand) if binary else (item.operand,))
            piece = "!(" if binary else "!"
        elif isinstance(item, _Binary):
            op, rank = _OPS[type(item)]
            right, left = item.right, item.left      # left-associative: "a | b | c" needs no parens
            stack.extend((")", right, "(") if _rank(right) <= rank else (right,))
            stack.append(f" {op} ")
            stack.extend((")", left, "(") if _rank(left) < rank else (left,))
            continue
        else:
            raise TypeError(f"not a UVL expression: {item!r}")
        out.append(piece)
        size += len(piece)
        if limit is not None and size > limit:
            return "".join(out)[:limit - 1] + "…"
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Feature:
    """One feature of the tree, where it is and what it carries."""

    name: str
    line: int                          # where it is declared (a second declaration names it)
    attributes: Mapping[str, object]   # SPLENT's ``package`` among them

    @property
    def package(self) -> str:
        """The pip package the feature stands for: SPLENT's ``package`` attribute, else its name."""
        package = self.attributes.get("package")
        return package if isinstance(package, str) else self.name


@dataclass(frozen=True, slots=True)
class Constraint:
    """One constraint and the line it starts on (notes name it); an attribute's constraint
    (``{constraint ...}``) is one too, and is also its feature's attribute value."""

    expr: object
    line: int


@dataclass(frozen=True)
class UVLModel:
    """What restart needs from a UVL file, in file order: its features and constraints.

    ``namespace``, ``include`` and ``imports`` are checked for syntax but not kept: imports are
    not followed, and nothing else depends on them.
    """

    path: str
    features: Mapping[str, Feature]
    constraints: tuple[Constraint, ...]


@dataclass(frozen=True, slots=True)
class Requirement:
    """``feature`` cannot work without ``requires`` (UVL names), per the constraint at ``line``."""

    feature: str
    requires: str
    line: int


# --------------------------------------------------------------------------- tokenizer

_EOF, _NL, _COMMENT, _QID, _STR, _ID, _NUM, _OPEN_COMMENT, _OP, _BAD = range(10)
# One pass over the whole text.  Every alternative is one group, numbered as the kinds above:
# ``m.lastindex`` is the token's kind.
# Leading blanks are eaten by each match, so only trailing blanks at the very end go unmatched.
_TOKEN = re.compile(r"""[ \t]*(?:
    (\n[ \t]*)                                  # 1 line end + the next line's indentation
  | (//[^\n]*|/\*[\s\S]*?\*/)                   # 2 comment
  | ("[^"\n]*")                                 # 3 quoted name
  | ('[^'\n]*')                                 # 4 string
  | ([^\W\d]\w*)                                # 5 identifier or keyword
  | (\d+(?:\.\d+)?|\.\d+)                       # 6 number (a sign is an operator)
  | (/\*)                                       # 7 unterminated comment (checked before '/')
  | (<=>|=>|==|!=|<=|>=|\.\.|[<>!&|+\-*/(){}\[\],.])   # 8 operator or punctuation
  | ([^ \t])                                    # 9 anything else: an error
)""", re.X)
_PLAIN_NAME = re.compile(r"[^\W\d]\w*")

_SECTIONS = frozenset({"namespace", "include", "imports", "features", "constraints"})
_GROUPS = frozenset({"mandatory", "optional", "alternative", "or"})
_TYPES = frozenset({"Boolean", "Integer", "String", "Real"})
_AGGREGATES = frozenset({"sum", "avg", "len", "floor", "ceil"})

# Binding powers: a higher number binds tighter.  Logical order as in the UVL grammar
# (! > & > | > => > <=>); comparisons bind tighter than '&', arithmetic tighter still.
_BP = {"<=>": 10, "=>": 20, "|": 30, "&": 40,
       "==": 50, "!=": 50, "<": 50, "<=": 50, ">": 50, ">=": 50,
       "+": 60, "-": 60, "*": 70, "/": 70}
_NOT_BP = 40        # '!' takes a comparison or primary: !a & b == (!a) & b; !x > 1 == !(x > 1)
_NEG_BP = 70
_LOGIC = {"&": And, "|": Or, "=>": Implies, "<=>": Equiv}
_COMPARE = frozenset({"==", "!=", "<", "<=", ">", ">="})
_CONTINUES = frozenset({"<=>", "=>", "|", "&", "==", "!=", "<", "<=", ">", ">=", "+", "*", "/"})
# expression value kinds while parsing
_BOOL, _VALUE, _REF = 1, 2, 3


def _indent_width(indent: str) -> int:
    width = 0
    for ch in indent:
        width = width + TAB_WIDTH - width % TAB_WIDTH if ch == "\t" else width + 1
    return width


def _describe(tok) -> str:
    kind, text = tok[0], tok[1]
    if kind == _EOF:
        return "end of file"
    if kind == _NL:
        return "end of line"
    return repr(text) if kind != _QID else text


class _Parser:
    """State of one parse.  Tokens are tuples (kind, text, offset, line) over ``src``."""

    def __init__(self, text: str, path: str):
        if text.startswith("\ufeff"):
            text = text[1:]
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        # A leading "\n" makes the first line's indentation a line-end token like any other,
        # and makes ``src.count("\n", 0, offset)`` the 1-based line of an offset.
        self.src = "\n" + text
        self.path = path
        self.i = 0
        self.features: dict[str, Feature] = {}
        self.constraints: list[Constraint] = []
        self.toks = self._tokenize()

    # ------------------------------------------------------------------ errors

    def error(self, offset: int, message: str) -> UVLSyntaxError:
        src = self.src
        offset = min(offset, len(src))
        line = max(src.count("\n", 0, offset), 1)
        column = offset - src.rfind("\n", 0, offset) if offset > 0 else 1
        return UVLSyntaxError(self.path, line, max(column, 1), message)

    def error_at(self, tok, message: str) -> UVLSyntaxError:
        return self.error(tok[2], message)

    # ------------------------------------------------------------------ tokens

    def _tokenize(self) -> list[tuple[int, str, int, int]]:
        toks: list[tuple[int, str, int, int]] = []
        add = toks.append
        line = 0
        for m in _TOKEN.finditer(self.src):
            kind = m.lastindex
            if kind == _NL:
                line += 1
                # text: the next line's indentation; offset: the line end (where "end of line" is)
                add((_NL, m.group(kind)[1:], m.start(kind), line))
            elif kind == _COMMENT:
                line += m.group(kind).count("\n")
            elif kind == _OPEN_COMMENT or kind == _BAD:
                raise self._bad(m.start(kind), m.group(kind))
            else:
                add((kind, m.group(kind), m.start(kind), line))
        add((_EOF, "", len(self.src), line))
        return toks

    def _bad(self, offset: int, text: str) -> UVLSyntaxError:
        if text == "/*":
            return self.error(offset, "this /* comment is never closed with */")
        if text == '"':
            return self.error(offset, 'a quoted name must end with " on the same line')
        if text == "'":
            return self.error(offset, "a string must end with ' on the same line")
        if text == "=":
            return self.error(offset, "unexpected '=' (did you mean '=>' or '=='?)")
        return self.error(offset, f"unexpected character {text!r} (U+{ord(text):04X})")

    def end_of_line(self, i: int, after: str) -> int:
        tok = self.toks[i]
        if tok[0] != _NL and tok[0] != _EOF:
            raise self.error_at(tok, f"unexpected {_describe(tok)} after {after}")
        return i

    def skip_newlines(self, i: int) -> int:
        toks = self.toks
        while toks[i][0] == _NL:
            i += 1
        return i

    # ------------------------------------------------------------------ names

    def unquote(self, tok) -> str:
        name = tok[1][1:-1]
        if not name:
            raise self.error_at(tok, "empty quoted name")
        if "." in name:
            raise self.error_at(tok, f"quoted name {tok[1]} contains '.', which UVL reads as a "
                                     "path (model.feature, feature.attribute)")
        return name

    def reference(self, i: int) -> tuple[str, int]:
        """A name, possibly dotted (``a.b``, ``"x y".Price``); returns it and the next index."""
        toks = self.toks
        tok = toks[i]
        if tok[0] == _ID:
            name = tok[1]
        elif tok[0] == _QID:
            name = self.unquote(tok)
        else:
            raise self.error_at(tok, f"expected a name, found {_describe(tok)}")
        i += 1
        if toks[i][1] == "." and toks[i][0] == _OP:
            parts = [name]
            while toks[i][1] == "." and toks[i][0] == _OP:
                tok = toks[i + 1]
                if tok[0] == _ID:
                    parts.append(tok[1])
                elif tok[0] == _QID:
                    parts.append(self.unquote(tok))
                else:
                    raise self.error_at(tok, f"expected a name after '.', found {_describe(tok)}")
                i += 2
            name = ".".join(parts)
        return name, i

    def cardinality(self, i: int) -> tuple[str, int]:
        """``[n]``, ``[n..m]`` or ``[n..*]`` starting at ``toks[i]`` (the ``[``)."""
        toks = self.toks
        tok = toks[i + 1]
        if tok[0] != _NUM or "." in tok[1]:
            raise self.error_at(tok, f"expected a whole number in a cardinality, found {_describe(tok)}")
        low, high, i = tok[1], None, i + 2
        if toks[i][1] == ".." and toks[i][0] == _OP:
            tok = toks[i + 1]
            if not ((tok[0] == _NUM and "." not in tok[1]) or (tok[0] == _OP and tok[1] == "*")):
                raise self.error_at(tok, f"expected a whole number or '*' after '..', found {_describe(tok)}")
            high, i = tok[1], i + 2
        tok = toks[i]
        if tok[1] != "]" or tok[0] != _OP:
            raise self.error_at(tok, f"expected ']' to close the cardinality, found {_describe(tok)}")
        if high is not None and high != "*" and int(high) < int(low):
            raise self.error_at(toks[i - 1], f"cardinality [{low}..{high}]: upper bound below lower bound")
        return (f"[{low}..{high}]" if high is not None else f"[{low}]"), i + 1

    # ------------------------------------------------------------------ file

    def parse(self) -> UVLModel:
        toks = self.toks
        section = None
        stack: list[tuple[int, bool, str]] = []
        widths: dict[str, int] = {}
        indent = ""
        i = 0
        while True:
            tok = toks[i]
            kind = tok[0]
            if kind == _NL:
                indent = tok[1]
                i += 1
                continue
            if kind == _EOF:
                break
            text = tok[1]
            if kind == _ID and text in _SECTIONS:
                following = toks[i + 1][0]
                if text == "namespace":
                    if section in (None, "include", "imports"):
                        _, i = self.reference(i + 1)
                        i = self.end_of_line(i, "the namespace")
                        continue
                elif following == _NL or following == _EOF:
                    section = text
                    stack = []
                    i += 1
                    continue
            if section == "features":
                width = widths.get(indent)
                if width is None:
                    width = widths[indent] = _indent_width(indent)
                i = self.tree_line(i, width, stack)
            elif section == "constraints":
                i = self.constraint_line(i)
            elif section == "imports":
                i = self.import_line(i)
            elif section == "include":
                i = self.include_line(i)
            else:
                raise self.error_at(tok, f"expected 'features' (or 'namespace', 'include', 'imports', "
                                         f"'constraints') before {_describe(tok)}")
        return UVLModel(self.path, self.features, tuple(self.constraints))

    def import_line(self, i: int) -> int:
        _, i = self.reference(i)
        tok = self.toks[i]
        if tok[0] == _ID and tok[1] == "as":
            _, i = self.reference(i + 1)
        return self.end_of_line(i, "the import")

    def include_line(self, i: int) -> int:
        toks = self.toks
        first = toks[i]
        if first[0] != _ID:
            raise self.error_at(first, f"expected a language level, found {_describe(first)}")
        while toks[i][0] == _ID or toks[i][0] == _OP and toks[i][1] in (".", "*", "-"):
            i += 1
        self.end_of_line(i, "the language level")
        return i

    # ------------------------------------------------------------------ feature tree

    def tree_line(self, i: int, width: int, stack: list) -> int:
        """One line of the tree: a group keyword or a feature, placed by its indentation."""
        toks = self.toks
        tok = toks[i]
        kind, text = tok[0], tok[1]
        while stack and stack[-1][0] >= width:
            stack.pop()
        parent = stack[-1] if stack else None
        if kind == _ID and text in _GROUPS or kind == _OP and text == "[":
            if kind == _OP:
                group, i = self.cardinality(i)
            else:
                group, i = text, i + 1
            end = toks[i]
            if end[0] != _NL and end[0] != _EOF:
                hint = f' (quote a feature called {group}: "{group}")' if kind == _ID else ""
                raise self.error_at(end, f"unexpected {_describe(end)} after group '{group}'{hint}")
            if parent is None or parent[1]:
                where = "under another group" if parent else "at the top of the tree"
                raise self.error_at(tok, f"group '{group}' must be indented under a feature, not {where}")
            stack.append((width, True, parent[2]))
            return i
        if parent is not None and not parent[1]:
            raise self.error_at(tok, f"{_describe(tok)} is indented under feature '{parent[2]}' with no "
                                     "group keyword (mandatory, optional, alternative, or, [n..m]) between")
        if kind == _ID and text in _TYPES and toks[i + 1][0] in (_ID, _QID):
            i += 1
            tok = toks[i]
        if tok[0] == _ID and toks[i + 1][0] == _NL:       # the common case: a bare name
            name = tok[1]
            i += 1
        else:
            name, i = self.reference(i)
        cardinality = False
        attributes: dict[str, object] = {}
        after = toks[i]
        if after[0] == _ID and after[1] == "cardinality" and toks[i + 1][1] == "[":
            _, i = self.cardinality(i + 1)
            cardinality, after = True, toks[i]
        if after[0] == _OP and after[1] == "{":
            try:
                attributes, i = self.attributes(i)
            except RecursionError:
                raise self.error_at(after, f"attributes of '{name}' nested too deeply") from None
            after = toks[i]
        if after[0] != _NL and after[0] != _EOF:
            hint = ""
            if after[0] == _ID and not attributes and not cardinality:
                hint = f' (a name with a space must be quoted: "{name} {after[1]}")'
            raise self.error_at(after, f"unexpected {_describe(after)} after feature '{name}'{hint}")
        if name in self.features:
            raise self.error_at(tok, f"feature '{name}' is declared twice (first at line "
                                     f"{self.features[name].line})")
        self.features[name] = Feature(name, tok[3], attributes)
        stack.append((width, False, name))
        return i

    def attributes(self, i: int) -> tuple[dict[str, object], int]:
        """``{...}`` at ``toks[i]``; commas between attributes are optional (SPLENT omits them)."""
        toks = self.toks
        opening = toks[i]
        attrs: dict[str, object] = {}
        i += 1
        while True:
            while toks[i][0] == _NL or toks[i][0] == _OP and toks[i][1] == ",":
                i += 1
            tok = toks[i]
            kind, text = tok[0], tok[1]
            if kind == _OP and text == "}":
                return attrs, i + 1
            if kind == _ID:
                key = text
            elif kind == _QID:
                key = self.unquote(tok)
            elif kind == _EOF:
                raise self.error_at(opening, "this '{' is never closed")
            else:
                raise self.error_at(tok, f"expected an attribute name or '}}', found {_describe(tok)}")
            i = self.skip_newlines(i + 1)
            if kind == _ID and key == "constraint":
                attrs[key], i = self.attribute_constraint(i)
            elif kind == _ID and key == "constraints" and toks[i][1] == "[" and toks[i][0] == _OP:
                items, i = [], self.skip_newlines(i + 1)
                while not (toks[i][0] == _OP and toks[i][1] == "]"):
                    item, i = self.attribute_constraint(i)
                    items.append(item)
                    i = self.skip_newlines(i)
                    if toks[i][0] == _OP and toks[i][1] == ",":
                        i = self.skip_newlines(i + 1)
                attrs[key], i = tuple(items), i + 1
            elif self.starts_value(i):
                attrs[key], i = self.value(i)
            else:
                attrs[key] = True           # a flag: {abstract}
        # not reached

    def starts_value(self, i: int) -> bool:
        kind, text = self.toks[i][0], self.toks[i][1]
        return (kind in (_NUM, _STR, _QID) or kind == _OP and text in ("{", "[", "-")
                or kind == _ID and text in ("true", "false"))

    def value(self, i: int) -> tuple[object, int]:
        toks = self.toks
        tok = toks[i]
        kind, text = tok[0], tok[1]
        if kind == _STR or kind == _QID:
            return text[1:-1], i + 1
        if kind == _NUM:
            return (float(text) if "." in text else int(text)), i + 1
        if kind == _ID and text in ("true", "false"):
            return text == "true", i + 1
        if kind == _OP and text == "-" and toks[i + 1][0] == _NUM:
            number, i = self.value(i + 1)
            return -number, i
        if kind == _OP and text == "{":
            return self.attributes(i)
        if kind == _OP and text == "[":
            items, i = [], i + 1
            while True:
                while toks[i][0] == _NL or toks[i][0] == _OP and toks[i][1] == ",":
                    i += 1
                if toks[i][0] == _OP and toks[i][1] == "]":
                    return items, i + 1
                if toks[i][0] == _EOF:
                    raise self.error_at(tok, "this '[' is never closed")
                if not self.starts_value(i):
                    raise self.error_at(toks[i], f"expected a value or ']', found {_describe(toks[i])}")
                item, i = self.value(i)
                items.append(item)
        raise self.error_at(tok, f"expected a value, found {_describe(tok)}")

    def attribute_constraint(self, i: int) -> tuple[Constraint, int]:
        """``{constraint X}`` / ``{constraints [X, Y]}``: a constraint like any other, owned by a feature."""
        self.i = i
        constraint = self.constraint(depth=1)
        return constraint, self.i

    # ------------------------------------------------------------------ constraints

    def constraint_line(self, i: int) -> int:
        self.i = i
        self.constraint(depth=0)
        tok = self.toks[self.i]
        if tok[0] != _NL and tok[0] != _EOF:
            raise self.error_at(tok, f"unexpected {_describe(tok)} after a constraint (a binary "
                                     "operator such as '=>' or '&' is missing?)")
        return self.i

    def constraint(self, depth: int) -> Constraint:
        toks = self.toks
        first = toks[self.i]
        try:
            node, kind, start, end = self.expr(0, depth)
        except RecursionError:
            raise self.error_at(first, "constraint nested too deeply (hundreds of '(' or '!')") from None
        if kind == _VALUE:
            raise self.error(start, f"{self.span(start, end)} is a value, not a constraint "
                                    "(compare it with ==, <, >...)")
        constraint = Constraint(node, first[3])
        self.constraints.append(constraint)
        return constraint

    def span(self, start: int, end: int) -> str:
        return " ".join(self.src[start:end].split())

    def expr(self, min_bp: int, depth: int):
        """Pratt parser: returns (node, kind, start offset, end offset)."""
        toks = self.toks
        lhs = self.prefix(depth)
        while True:
            j = self.i
            tok = toks[j]
            if tok[0] == _NL:
                while toks[j][0] == _NL:
                    j += 1
                tok = toks[j]
                if not depth and not (tok[0] == _OP and tok[1] in _CONTINUES):
                    return lhs
            if tok[0] != _OP:
                return lhs
            bp = _BP.get(tok[1])
            if bp is None or bp <= min_bp:
                return lhs
            self.i = j + 1
            rhs = self.expr(bp, depth)
            lhs = self.combine(tok, lhs, rhs)

    def prefix(self, depth: int):
        toks = self.toks
        i = self.i
        tok = toks[i]
        while tok[0] == _NL:                    # an operand is due: the expression goes on
            i += 1
            tok = toks[i]
        kind, text, pos = tok[0], tok[1], tok[2]
        self.i = i + 1
        if kind == _ID or kind == _QID:
            after = toks[i + 1][1]
            if after != "." and after != "(" and text != "true" and text != "false":
                return Ref(text if kind == _ID else self.unquote(tok)), _REF, pos, pos + len(text)
            if kind == _ID and after == "(" and text in _AGGREGATES:
                return self.aggregate(i, depth)
            if kind == _ID and text in ("true", "false"):
                return Other(text), _BOOL, pos, pos + len(text)
            name, self.i = self.reference(i)
            last = toks[self.i - 1]
            return Ref(name), _REF, pos, last[2] + len(last[1])
        if kind == _NUM or kind == _STR:
            return (), _VALUE, pos, pos + len(text)
        if kind == _OP:
            if text == "(":
                node, nkind, _, _ = self.expr(0, depth + 1)
                j = self.skip_newlines(self.i)
                if toks[j][0] != _OP or toks[j][1] != ")":
                    if toks[j][0] == _EOF:
                        raise self.error_at(tok, "this '(' is never closed")
                    raise self.error_at(toks[j], f"expected ')' or an operator, found {_describe(toks[j])}")
                self.i = j + 1
                return node, nkind, pos, toks[j][2] + 1
            if text == "!":
                node, nkind, _, end = self.expr(_NOT_BP, depth)
                return Not(self.as_bool((node, nkind, pos + 1, end), tok)), _BOOL, pos, end
            if text == "-":
                node, nkind, _, end = self.expr(_NEG_BP, depth)
                return self.refs_of((node, nkind, pos + 1, end), tok), _VALUE, pos, end
        raise self.error_at(tok, f"expected a feature, value or '(', found {_describe(tok)}")

    def aggregate(self, i: int, depth: int):
        """``sum(a)``, ``avg(a, b)``, ``len(x)``... : a value naming its arguments."""
        toks = self.toks
        function, start = toks[i][1], toks[i][2]
        refs: list[str] = []
        i = self.skip_newlines(i + 2)
        while True:
            name, i = self.reference(i)
            refs.append(name)
            i = self.skip_newlines(i)
            tok = toks[i]
            if tok[0] == _OP and tok[1] == ",":
                i = self.skip_newlines(i + 1)
                continue
            if tok[0] == _OP and tok[1] == ")":
                self.i = i + 1
                return tuple(refs), _VALUE, start, tok[2] + 1
            raise self.error_at(tok, f"expected ',' or ')' in {function}(...), found {_describe(tok)}")

    def as_bool(self, operand, op_tok) -> object:
        node, kind, start, end = operand
        if kind == _VALUE:
            raise self.error(start, f"{self.span(start, end)} is a value, but '{op_tok[1]}' "
                                    "needs a constraint on each side")
        return node

    def refs_of(self, operand, op_tok) -> tuple[str, ...]:
        node, kind, start, end = operand
        if kind == _VALUE:
            return node
        if kind == _REF:
            return (node.name,)
        raise self.error(start, f"{self.span(start, end)} is a constraint, but '{op_tok[1]}' "
                                "needs a value on each side")

    def combine(self, op_tok, lhs, rhs):
        op = op_tok[1]
        start, end = lhs[2], rhs[3]
        if op in _LOGIC:
            if lhs[1] == _VALUE or rhs[1] == _VALUE:
                self.as_bool(lhs, op_tok)
                self.as_bool(rhs, op_tok)
            return _LOGIC[op](lhs[0], rhs[0]), _BOOL, start, end
        refs = self.refs_of(lhs, op_tok) + self.refs_of(rhs, op_tok)
        if op in _COMPARE:
            return Other(self.span(start, end), refs), _BOOL, start, end
        return refs, _VALUE, start, end


# --------------------------------------------------------------------------- entry points


def parse_uvl(text: str, path: str = "<uvl>") -> UVLModel:
    """Parse UVL source; ``path`` only names the file in messages.

    Raises
    ------
    UVLSyntaxError
        For the first syntax error, with 1-based line and column.
    """
    # The parse allocates ~10^5 small objects that all live on, and makes no reference cycles:
    # letting the cyclic GC rescan them again and again costs a third of the time on kernel-size
    # models.  Pause it for the parse only.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _Parser(text, path).parse()
    finally:
        if enabled:
            gc.enable()


def load_uvl(path: os.PathLike | str, name: str | None = None) -> UVLModel:
    """Read and parse a UVL file (UTF-8, optional BOM); ``name`` (default: the path as given)
    names it in messages.

    Raises
    ------
    ConfigError
        The file cannot be read or is not UTF-8 (UVLSyntaxError, a ConfigError, for bad syntax).
    """
    name = name or os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as e:
        raise ConfigError(f"{name}: cannot read the UVL model ({e.strerror or e}).") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{name}:{line}: not valid UTF-8 (byte 0x{data[e.start]:02x} at offset "
                          f"{e.start}); save the UVL model as UTF-8.") from e
    return parse_uvl(text, name)


# --------------------------------------------------------------------------- dependency rule


_SHOWN = 100          # characters of a constraint quoted in a note


def _disjuncts(expr: object) -> list[str] | None:
    """``A`` or ``A | B | ...`` -> the feature names; anything else -> None."""
    parts = _flatten(expr, Or)
    return [p.name for p in parts] if all(isinstance(p, Ref) for p in parts) else None


def _conjuncts(expr: object) -> list[object]:
    """``X & Y & ...`` -> [X, Y, ...] (anything else -> [expr]), left to right."""
    return _flatten(expr, And)


def _flatten(expr: object, op: type) -> list[object]:
    """The operands of a chain of one binary operator, left to right, at any nesting."""
    parts: list[object] = []
    stack = [expr]
    while stack:
        item = stack.pop()
        if isinstance(item, op):
            stack += (item.right, item.left)
        else:
            parts.append(item)
    return parts


_KINDS = ((Or, "a disjunction (one of them is enough)"), (Not, "a negation (an exclusion)"),
          (Implies, "a conditional (=>)"), (Equiv, "an equivalence (<=>)"),
          (Other, "a comparison or arithmetic"), (And, "a conjunction"))


def _what(expr: object) -> str:
    """What kind of constraint ``expr`` is, for the note saying why it imposes no order."""
    return next((text for kind, text in _KINDS if isinstance(expr, kind)), "a single feature")


def requirements(model: UVLModel) -> tuple[tuple[Requirement, ...], tuple[tuple[int, str], ...]]:
    """Which feature needs which, and why every other constraint imposes no order.

    A requires B when a constraint makes B necessary for A: ``A => B``, ``A => B & C`` (also
    nested in parentheses, also across lines); ``A | A2 => B`` means each of A, A2 requires B.
    A top-level ``X & Y`` is read as the two constraints X and Y, and in ``A => B & (C | D)``
    only B is required.  Equivalences, disjunctions on the right, negations, a compound left
    side and arithmetic impose no order: each gets a note.  A name that is not a feature of
    the model still yields its requirement (it may match a package), plus a note.

    Returns
    -------
    (requirements, notes)
        Requirements in file order; notes are ``(line, why)``, each ≤ ~250 characters.
    """
    reqs: list[Requirement] = []
    notes: list[tuple[int, str]] = []
    features = model.features
    for c in model.constraints:
        line = c.line
        unknown: list[str] = []
        for part in _conjuncts(c.expr):
            shown = render(part, _SHOWN)
            if isinstance(part, Implies):
                sources = _disjuncts(part.left)
                if sources is None:
                    notes.append((line, f"{shown}: the left side is not a feature or a disjunction "
                                        "of features: no order"))
                    continue
                for target in _conjuncts(part.right):
                    if not isinstance(target, Ref):
                        notes.append((line, f"{shown}: {render(target, _SHOWN // 2)} on the right is "
                                            f"{_what(target)}: no order from it"))
                        continue
                    for source in sources:
                        if source == target.name:
                            notes.append((line, f"{shown}: {source} requires itself: no order"))
                        else:
                            reqs.append(Requirement(source, target.name, line))
                    unknown.extend(n for n in (*sources, target.name) if n not in features)
            elif isinstance(part, Ref):
                notes.append((line, f"{shown}: a lone feature is always selected: no order"))
            elif isinstance(part, Other) and part.refs:
                names = list(dict.fromkeys(part.refs))
                listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                notes.append((line, f"{shown}: {_what(part)} over {listed}: no order"))
            else:
                notes.append((line, f"{shown}: {_what(part)} imposes no order"))
        for name in dict.fromkeys(unknown):
            notes.append((line, f"{name} is named in a constraint but is not a feature of the model"))
    return tuple(reqs), tuple(notes)

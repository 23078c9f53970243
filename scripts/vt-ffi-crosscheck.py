#!/usr/bin/env python3
"""Cross-checks crates/vtremoted/src/backend/videotoolbox/ffi.rs (and the CFString symbols the
option table names) against the generated objc2 bindings (objc2-video-toolbox, -core-media,
-core-video, -core-foundation 0.3.2).

Checked: every declared function exists with the same argument count, argument and return
types (type aliases and newtypes resolved on both sides, pointer const-ness ignored, pointee
types compared); every static exists with a compatible type; every constant has the same
value; the repr(C) structs have the same field types and packing; every table symbol exists
as an exported CFString. Usage: vt-ffi-crosscheck.py OBJC2_SRC_DIR... [--ffi FILE]
"""
import re
import sys
from pathlib import Path

# objc2 distinguishes these; the C ABI does not.
EQUIVALENT = {
    "CFMutableDictionary": "CFDictionary",
    "CFMutableArray": "CFArray",
    # objc2: `pub type CVImageBuffer = CVBuffer` (CVPixelBuffer = CVImageBuffer); one C type.
    "CVImageBuffer": "CVBuffer",
}
# Declared in ffi.rs but not framework API (libSystem), so absent from the objc2 crates.
NOT_FRAMEWORK = {"dlsym"}


def strip_comments(s):
    s = re.sub(r"//[^\n]*", "", s)
    return re.sub(r"/\*.*?\*/", "", s, flags=re.S)


def split_top(s, sep=","):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "<([":
            depth += 1
        elif ch in ">)]":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [x.strip() for x in out if x.strip()]


class Types:
    def __init__(self):
        self.alias = {}

    def learn(self, text):
        for m in re.finditer(r"pub type (\w+)\s*=\s*([^;]+);", text):
            self.alias.setdefault(m.group(1), " ".join(m.group(2).split()))
        for m in re.finditer(r"pub struct (\w+)\(pub (\w+)\);", text):
            self.alias.setdefault(m.group(1), m.group(2))

    def canon(self, t, depth=0):
        t = " ".join(t.replace("'static ", "").split()).rstrip(",")
        if depth > 20:
            return t
        for pat in (r"^Option<(.*)>$", r"^NonNull<(.*)>$", r"^&(?:mut )?(.*)$", r"^\*(?:const|mut) (.*)$"):
            m = re.match(pat, t)
            if m:
                inner = m.group(1)
                if pat.startswith("^Option") and inner.startswith(("unsafe extern", "extern")):
                    return self.canon(inner, depth + 1)
                if pat.startswith("^Option"):
                    return self.canon(inner, depth + 1)
                return "ptr(" + self.canon(inner, depth + 1) + ")"
        m = re.match(r'^unsafe extern "C(?:-unwind)?" fn\((.*)\)\s*(?:->\s*(.*))?$', t)
        if m:
            args = [self.canon(a.split(":", 1)[-1] if re.match(r"^\w+\s*:", a) else a, depth + 1) for a in split_top(m.group(1))]
            ret = self.canon(m.group(2), depth + 1) if m.group(2) else "void"
            return "fn(" + ",".join(args) + ")->" + ret
        if t in self.alias and self.alias[t] != t:
            return self.canon(self.alias[t], depth + 1)
        t = {"c_int": "i32", "c_uint": "u32", "c_char": "c_char", "c_void": "c_void"}.get(t, t)
        return EQUIVALENT.get(t, t)


def parse_value(v, consts):
    v = v.strip()
    m = re.match(r"^Self\((.*)\)$", v)
    if m:
        v = m.group(1)
    v = v.replace("_", "") if re.match(r"^-?(0x)?[0-9a-fA-F_]+$", v) else v
    try:
        return int(eval(v, {}, dict(consts)))
    except Exception:
        return None


def functions(text, types):
    out = {}
    for block in re.finditer(r'extern "C(?:-unwind)?"\s*\{(.*?)\n\s*\}', text, re.S):
        for m in re.finditer(r"\bfn (\w+)\s*\((.*?)\)\s*(?:->\s*([^;{]+?))?\s*;", block.group(1), re.S):
            args = [a.split(":", 1)[1] for a in split_top(m.group(2))]
            out[m.group(1)] = ([types.canon(a) for a in args], types.canon(m.group(3)) if m.group(3) else "void")
        for m in re.finditer(r"pub static (\w+)\s*:\s*([^;]+);", block.group(1)):
            out["static " + m.group(1)] = types.canon(m.group(2))
    return out


def constants(text):
    consts = {}
    for _ in range(3):  # resolve constants defined via other constants
        for m in re.finditer(r"pub const (\w+)\s*:\s*[\w:]+\s*=\s*([^;]+);", text):
            val = parse_value(m.group(2), consts)
            if val is not None:
                consts[m.group(1)] = val
        for m in re.finditer(r'#\[doc\(alias = "(\w+)"\)\]\s*(?:pub )?const \w+\s*(?::\s*\w+)?\s*=\s*([^;]+);', text):
            val = parse_value(m.group(2), consts)
            if val is not None:
                consts[m.group(1)] = val
    return consts


def structs(text, types):
    out = {}
    for m in re.finditer(r"#\[repr\(([^)]*\)?)\)\][^\n]*\n(?:\s*#\[[^\n]*\n)*\s*pub struct (\w+)\s*\{(.*?)\}", text, re.S):
        fields = [types.canon(f.split(":", 1)[1]) for f in split_top(m.group(3)) if ":" in f]
        out[m.group(2)] = (m.group(1).replace(" ", ""), fields)
    return out


def main(argv):
    ffi_path = Path("crates/vtremoted/src/backend/videotoolbox/ffi.rs")
    table_path = Path("crates/vtremoted/src/backend/videotoolbox/options_table.rs")
    if "--ffi" in argv:
        i = argv.index("--ffi")
        ffi_path = Path(argv[i + 1])
        del argv[i : i + 2]
    roots = [Path(a) for a in argv]
    ref_types, ref_text = Types(), ""
    for root in roots:
        for f in sorted(root.rglob("*.rs")):
            ref_text += strip_comments(f.read_text()) + "\n"
    ref_types.learn(ref_text)
    # Defined in objc2's crate roots / MacTypes rather than the generated files.
    ref_types.alias.update({"OSStatus": "i32", "Boolean": "u8", "FourCharCode": "u32", "OSType": "u32"})
    ref_funcs = functions(ref_text, ref_types)
    ref_consts = constants(ref_text)
    ref_structs = structs(ref_text, ref_types)

    mine_text = strip_comments(ffi_path.read_text())
    mine_types = Types()
    mine_types.learn(mine_text)
    mine_funcs = functions(mine_text, mine_types)
    mine_consts = constants(mine_text)
    mine_structs = structs(mine_text, mine_types)

    errors, checked = [], 0
    for name, sig in mine_funcs.items():
        if name in NOT_FRAMEWORK:
            continue
        checked += 1
        ref = ref_funcs.get(name)
        if ref is None:
            errors.append(f"{name}: not found in the objc2 bindings")
        elif name.startswith("static "):
            if ref != sig:
                errors.append(f"{name}: type {sig} but objc2 has {ref}")
        else:
            (args, ret), (rargs, rret) = sig, ref
            if len(args) != len(rargs):
                errors.append(f"{name}: {len(args)} arguments but objc2 has {len(rargs)}")
            for i, (a, b) in enumerate(zip(args, rargs)):
                if a != b:
                    errors.append(f"{name}: argument {i + 1} is {a} but objc2 has {b}")
            if ret != rret:
                errors.append(f"{name}: returns {ret} but objc2 returns {rret}")
    for name, value in mine_consts.items():
        if name == "noErr":
            continue
        checked += 1
        if name not in ref_consts:
            errors.append(f"const {name}: not found in the objc2 bindings")
        elif ref_consts[name] != value:
            errors.append(f"const {name} = {value} but objc2 has {ref_consts[name]}")
    for name, (repr_, fields) in mine_structs.items():
        if name not in ref_structs:
            continue  # opaque markers
        checked += 1
        rrepr, rfields = ref_structs[name]
        if fields != rfields:
            errors.append(f"struct {name}: fields {fields} but objc2 has {rfields}")
        if ("packed" in repr_) != ("packed" in rrepr):
            errors.append(f"struct {name}: repr({repr_}) but objc2 has repr({rrepr})")
    for alias in ("VTCompressionOutputCallback", "VTDecompressionOutputCallback"):
        checked += 1
        if mine_types.canon(alias) != ref_types.canon(alias):
            errors.append(f"{alias}: {mine_types.canon(alias)} but objc2 has {ref_types.canon(alias)}")
    if table_path.exists():
        table = table_path.read_text()
        symbols = {x for x in re.findall(r'"(k(?:VT|CV|CM)\w+)"', table) if not x.endswith("_")}
        prefixes = dict(re.findall(r'macro_rules! (\w+) \{\s*\(\$literal:literal\) => \{\s*sym!\("(\w+)", \$literal\)', table))
        prefixes["sym"] = None
        for mac, prefix in prefixes.items():
            if prefix:
                symbols |= {prefix + lit for lit in re.findall(mac + r'!\("(\w+)"\)', table)}
        symbols |= {a + b for a, b in re.findall(r'sym!\("(\w+)",\s*"(\w+)"\)', table)}
        for s in sorted(symbols):
            checked += 1
            if "static " + s not in ref_funcs:
                errors.append(f"table symbol {s}: no such exported CFString in the objc2 bindings")
            elif ref_funcs["static " + s] != "ptr(CFString)":
                errors.append(f"table symbol {s}: objc2 type is {ref_funcs['static ' + s]}, not a CFString")
    for e in errors:
        print("MISMATCH", e)
    print(f"vt-ffi-crosscheck: {checked} declarations checked, {len(errors)} mismatches")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

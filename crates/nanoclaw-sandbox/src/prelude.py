# Runs inside the sandbox before the user's code (python -I -X utf8 -c <this> <policy json>).
# Reads the code from stdin, checks it against the level's policy (syntax, the code's own
# imports, bare-name calls of blocked builtins), then prints a READY line and executes it.
# The policy is not the security boundary (the OS sandbox is); it keeps the spec's levels.
import sys


def _nanoclaw_main():
    import ast
    import builtins
    import json
    import linecache

    policy = json.loads(sys.argv[1])
    level = policy["level"]
    allow = policy["allow"]
    blocked = set(policy["blocked"])
    out = sys.stdout

    def reject(message):
        out.write("\x1eNANOCLAW-REJECT " + json.dumps(message) + "\n")
        out.flush()
        sys.exit(0)

    src = sys.stdin.buffer.read().decode("utf-8", "replace")
    try:
        tree = ast.parse(src, "<code>", "exec")
    except (SyntaxError, ValueError) as e:
        reject("Syntax error in code: %s" % e)

    def allowed(name):
        return any(name == a or name.startswith(a + ".") for a in allow)

    if allow is not None:
        bad = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if not allowed(alias.name):
                        bad.append(alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.module is None:
                    continue  # `from . import x`
                mod = node.module
                if not allowed(mod) and not all(
                    allowed(mod + "." + a.name) for a in node.names
                ):
                    bad.append(mod)
        if bad:
            reject(
                "Blocked imports: %s. These modules are not allowed in '%s' mode."
                % (", ".join(dict.fromkeys(bad)), level)
            )

    if blocked:
        bad = [
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in blocked
        ]
        if bad:
            reject(
                "Blocked functions: %s. These functions are not allowed in '%s' mode."
                % (", ".join(dict.fromkeys(bad)), level)
            )

    user_builtins = {k: v for k, v in vars(builtins).items() if k not in blocked}
    user_globals = {"__name__": "__main__", "__builtins__": user_builtins}
    real_import = builtins.__import__

    if allow is None:
        user_builtins["__import__"] = real_import
    else:
        # Only imports made by the user's code are checked (its globals are this dict); the
        # modules' own internal imports go through untouched (the original broke `import json`).
        def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
            if (
                globals is user_globals
                and level == 0
                and not allowed(name)
                and not (fromlist and all(allowed(name + "." + f) for f in fromlist))
            ):
                raise ImportError(
                    "Module '%s' is not allowed in '%s' mode" % (name, policy["level"])
                )
            return real_import(name, globals, locals, fromlist, level)

        user_builtins["__import__"] = guarded_import

    code = compile(tree, "<code>", "exec")
    linecache.cache["<code>"] = (len(src), None, src.splitlines(True), "<code>")
    out.write("\x1eNANOCLAW-READY\n")
    out.flush()
    try:
        exec(code, user_globals)
    except SystemExit:
        raise
    except BaseException as e:
        import traceback

        tb = e.__traceback__
        # Drop this prelude's own frame from the traceback.
        traceback.print_exception(type(e), e, tb.tb_next if tb is not None else None)
        sys.stderr.flush()
        out.flush()
        sys.exit(1)


_nanoclaw_main()

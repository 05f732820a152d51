//! `calculator` (tools.md §4.5): a small bounded arithmetic evaluator.
//!
//! nanoClaw `eval`-ed a Python expression (W-15: `9**9**9` pinned a worker). This one knows only
//! numbers, `+ - * / // % **`, unary `+ -` and parentheses, with Python's precedence and
//! semantics (floor division and modulo round toward negative infinity, `/` always gives a float,
//! `**` is right-associative and binds tighter than a unary minus on its left). Input length and
//! nesting depth are bounded; the expression is first parsed into postfix form (so every
//! "not allowed" error is reported before anything is evaluated, as Python's AST check did) and
//! then evaluated without recursion.
//!
//! Integers are 64-bit: an integer result that does not fit becomes a float (nanoClaw gave an
//! exact big integer), and a float result that overflows is the error
//! `Calculation error: result too large` rather than Python's `inf`, which is not valid JSON.

use serde_json::{Map, Value, json};

use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// Longest accepted expression, in bytes.
pub const MAX_LEN: usize = 2048;
/// Deepest accepted nesting of parentheses, unary operators and `**` chains.
pub const MAX_DEPTH: usize = 64;

/// The `calculator` tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct Calculator;

impl Tool for Calculator {
    fn name(&self) -> &str {
        "calculator"
    }

    fn description(&self) -> &str {
        "Evaluate an arithmetic expression and return the exact result. Supports numbers, \
         + - * / // % ** and parentheses (no variables or functions)."
    }

    fn category(&self) -> &str {
        "data"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "expression": {
                    "type": "string",
                    "description": "The arithmetic expression, e.g. \"(2 + 3) * 4 ** 2 / 7\""
                }
            },
            "required": ["expression"]
        })
    }

    fn has_side_effects(&self) -> bool {
        false
    }

    fn run<'a>(
        &'a self,
        args: Map<String, Value>,
        _ctx: &'a ToolContext,
    ) -> BoxFuture<'a, ToolOutput> {
        // Bounded input, no allocation beyond it, no awaits: evaluating inline is cheaper than
        // a blocking-pool hop.
        Box::pin(std::future::ready(run(&args)))
    }
}

fn run(args: &Map<String, Value>) -> ToolOutput {
    let expression = match args.get("expression") {
        Some(Value::String(s)) => s,
        Some(_) => return Err("Argument 'expression' must be a string".to_owned()),
        None => return Err("Missing required argument: 'expression'".to_owned()),
    };
    Ok(match evaluate(expression) {
        Ok(Num::Int(i)) => json!({ "result": i }),
        Ok(Num::Float(f)) => json!({ "result": f }),
        Err(e) => json!({ "error": e.to_string() }),
    })
}

/// A number during evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An integer that fits 64 bits.
    Int(i64),
    /// A finite float.
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// Why an expression was refused; `Display` is the exact text for the tool's `error` key.
#[derive(Debug, Clone, PartialEq)]
pub enum CalcError {
    /// An identifier followed by `(`.
    FunctionCall,
    /// Any other identifier.
    VariableName,
    /// Anything else: `Calculation error: <detail>`.
    Calculation(String),
}

impl std::fmt::Display for CalcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CalcError::FunctionCall => f.write_str("Function calls not allowed"),
            CalcError::VariableName => f.write_str("Variable names not allowed"),
            CalcError::Calculation(detail) => write!(f, "Calculation error: {detail}"),
        }
    }
}

fn calc(detail: impl Into<String>) -> CalcError {
    CalcError::Calculation(detail.into())
}

/// Evaluates `expr` (the whole tool minus the JSON around it).
pub fn evaluate(expr: &str) -> Result<Num, CalcError> {
    if expr.len() > MAX_LEN {
        return Err(calc(format!(
            "expression too long ({} bytes, at most {MAX_LEN})",
            expr.len()
        )));
    }
    let tokens = tokenize(expr)?;
    let mut parser = Parser {
        tokens: &tokens,
        pos: 0,
        depth: 0,
        out: Vec::with_capacity(tokens.len()),
    };
    if tokens.is_empty() {
        return Err(calc("empty expression"));
    }
    parser.expr()?;
    if parser.pos != tokens.len() {
        return Err(parser.unexpected());
    }
    eval_postfix(&parser.out)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Num(Num),
    Op(Op),
    Open,
    Close,
    Ident,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, CalcError> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                i += 1;
                continue;
            }
            b'0'..=b'9' | b'.' => {
                let (num, len) = number(&s[i..])?;
                i += len;
                out.push(Tok::Num(num));
                continue;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                out.push(Tok::Ident);
                continue;
            }
            b'+' => Tok::Op(Op::Add),
            b'-' => Tok::Op(Op::Sub),
            b'%' => Tok::Op(Op::Mod),
            b'(' => Tok::Open,
            b')' => Tok::Close,
            b'*' if bytes.get(i + 1) == Some(&b'*') => {
                i += 1;
                Tok::Op(Op::Pow)
            }
            b'*' => Tok::Op(Op::Mul),
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i += 1;
                Tok::Op(Op::FloorDiv)
            }
            b'/' => Tok::Op(Op::Div),
            _ => {
                // Report the whole character, not a byte of it.
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(calc(format!(
                    "unexpected character {ch:?} at position {}",
                    s[..i].chars().count()
                )));
            }
        };
        out.push(tok);
        i += 1;
    }
    Ok(out)
}

/// Reads a Python-style decimal literal at the start of `s`: digits with single `_` between
/// them, an optional fraction, an optional exponent. Returns the number and its length.
fn number(s: &str) -> Result<(Num, usize), CalcError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut text = String::new();
    let mut is_float = false;
    let digits = |i: &mut usize, text: &mut String| -> usize {
        let start = *i;
        while *i < b.len() {
            match b[*i] {
                d @ b'0'..=b'9' => text.push(char::from(d)),
                b'_' if *i > start && b.get(*i + 1).is_some_and(u8::is_ascii_digit) => {}
                _ => break,
            }
            *i += 1;
        }
        *i - start
    };
    let int_len = digits(&mut i, &mut text);
    if b.get(i) == Some(&b'.') {
        is_float = true;
        text.push('.');
        i += 1;
        let frac_len = digits(&mut i, &mut text);
        if int_len == 0 && frac_len == 0 {
            return Err(calc("invalid number '.'"));
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        let mut exp = String::from("e");
        if let Some(&sign @ (b'+' | b'-')) = b.get(j) {
            exp.push(char::from(sign));
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            digits(&mut j, &mut exp);
            text.push_str(&exp);
            is_float = true;
            i = j;
        }
    }
    // `2x`, `1.5.2`, `1e` and the like: Python's tokenizer refuses them too.
    if b.get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
    {
        return Err(calc(format!("invalid number near {:?}", &s[..=i])));
    }
    if !is_float {
        // Python 3 refuses leading zeros on non-zero integers (`012`).
        if text.len() > 1 && text.starts_with('0') && text.bytes().any(|c| c != b'0') {
            return Err(calc(
                "leading zeros in decimal integer literals are not permitted",
            ));
        }
        if let Ok(v) = text.parse::<i64>() {
            return Ok((Num::Int(v), i));
        }
    }
    let v: f64 = text
        .parse()
        .map_err(|_| calc(format!("invalid number {text:?}")))?;
    finite(v).map(|n| (n, i))
}

/// Recursive descent over the tokens, writing postfix into `out`.
///
/// Grammar (Python's):
/// `expr := term (('+'|'-') term)*`, `term := factor (('*'|'/'|'//'|'%') factor)*`,
/// `factor := ('+'|'-') factor | power`, `power := atom ('**' factor)?`,
/// `atom := NUMBER | '(' expr ')'`. Every recursion (a parenthesis, a unary operator, the
/// right side of `**`) passes through `factor`, which counts it toward [`MAX_DEPTH`].
struct Parser<'t> {
    tokens: &'t [Tok],
    pos: usize,
    depth: usize,
    out: Vec<Postfix>,
}

#[derive(Debug, Clone, Copy)]
enum Postfix {
    Push(Num),
    Neg,
    Bin(Op),
}

impl Parser<'_> {
    fn peek(&self) -> Option<Tok> {
        self.tokens.get(self.pos).copied()
    }

    fn unexpected(&self) -> CalcError {
        match self.peek() {
            None => calc("unexpected end of expression"),
            Some(_) => calc(format!("invalid syntax at token {}", self.pos + 1)),
        }
    }

    fn enter(&mut self) -> Result<(), CalcError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(calc(format!(
                "expression nested too deeply (at most {MAX_DEPTH} levels)"
            )));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<(), CalcError> {
        self.term()?;
        while let Some(Tok::Op(op @ (Op::Add | Op::Sub))) = self.peek() {
            self.pos += 1;
            self.term()?;
            self.out.push(Postfix::Bin(op));
        }
        Ok(())
    }

    fn term(&mut self) -> Result<(), CalcError> {
        self.factor()?;
        while let Some(Tok::Op(op @ (Op::Mul | Op::Div | Op::FloorDiv | Op::Mod))) = self.peek() {
            self.pos += 1;
            self.factor()?;
            self.out.push(Postfix::Bin(op));
        }
        Ok(())
    }

    fn factor(&mut self) -> Result<(), CalcError> {
        self.enter()?;
        match self.peek() {
            Some(Tok::Op(Op::Add)) => {
                self.pos += 1;
                self.factor()?;
            }
            Some(Tok::Op(Op::Sub)) => {
                self.pos += 1;
                self.factor()?;
                self.out.push(Postfix::Neg);
            }
            _ => self.power()?,
        }
        self.depth -= 1;
        Ok(())
    }

    fn power(&mut self) -> Result<(), CalcError> {
        self.atom()?;
        if let Some(Tok::Op(Op::Pow)) = self.peek() {
            self.pos += 1;
            self.factor()?;
            self.out.push(Postfix::Bin(Op::Pow));
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<(), CalcError> {
        match self.peek() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                self.out.push(Postfix::Push(n));
                Ok(())
            }
            Some(Tok::Open) => {
                self.pos += 1;
                self.expr()?;
                if self.peek() != Some(Tok::Close) {
                    return Err(match self.peek() {
                        None => calc("'(' was never closed"),
                        Some(_) => self.unexpected(),
                    });
                }
                self.pos += 1;
                Ok(())
            }
            Some(Tok::Ident) if self.tokens.get(self.pos + 1) == Some(&Tok::Open) => {
                Err(CalcError::FunctionCall)
            }
            Some(Tok::Ident) => Err(CalcError::VariableName),
            _ => Err(self.unexpected()),
        }
    }
}

fn eval_postfix(program: &[Postfix]) -> Result<Num, CalcError> {
    let mut stack: Vec<Num> = Vec::with_capacity(16);
    for step in program {
        match *step {
            Postfix::Push(n) => stack.push(n),
            Postfix::Neg => {
                let a = stack.pop().ok_or_else(internal)?;
                stack.push(match a {
                    Num::Int(i) => i.checked_neg().map_or(Num::Float(-(i as f64)), Num::Int),
                    Num::Float(f) => Num::Float(-f),
                });
            }
            Postfix::Bin(op) => {
                let b = stack.pop().ok_or_else(internal)?;
                let a = stack.pop().ok_or_else(internal)?;
                stack.push(apply(op, a, b)?);
            }
        }
    }
    match (stack.pop(), stack.is_empty()) {
        (Some(n), true) => Ok(n),
        _ => Err(internal()),
    }
}

// The parser only emits well-formed postfix; this is a guard, not an expected path.
fn internal() -> CalcError {
    calc("internal evaluator error")
}

fn finite(f: f64) -> Result<Num, CalcError> {
    if f.is_finite() {
        Ok(Num::Float(f))
    } else if f.is_nan() {
        Err(calc("math domain error"))
    } else {
        Err(calc("result too large"))
    }
}

/// Integer op with a float fallback when the exact result leaves 64 bits.
fn int_or_float(exact: Option<i64>, approx: impl FnOnce() -> f64) -> Result<Num, CalcError> {
    match exact {
        Some(i) => Ok(Num::Int(i)),
        None => finite(approx()),
    }
}

fn apply(op: Op, a: Num, b: Num) -> Result<Num, CalcError> {
    use Num::Int;
    match (op, a, b) {
        (Op::Add, Int(x), Int(y)) => int_or_float(x.checked_add(y), || x as f64 + y as f64),
        (Op::Sub, Int(x), Int(y)) => int_or_float(x.checked_sub(y), || x as f64 - y as f64),
        (Op::Mul, Int(x), Int(y)) => int_or_float(x.checked_mul(y), || x as f64 * y as f64),
        (Op::Add, ..) => finite(a.as_f64() + b.as_f64()),
        (Op::Sub, ..) => finite(a.as_f64() - b.as_f64()),
        (Op::Mul, ..) => finite(a.as_f64() * b.as_f64()),
        (Op::Div, ..) => {
            if b.as_f64() == 0.0 {
                return Err(calc(match (a, b) {
                    (Int(_), Int(_)) => "division by zero",
                    _ => "float division by zero",
                }));
            }
            finite(a.as_f64() / b.as_f64())
        }
        (Op::FloorDiv, Int(x), Int(y)) => {
            if y == 0 {
                return Err(calc("integer division or modulo by zero"));
            }
            int_or_float(floor_div_int(x, y), || (x as f64 / y as f64).floor())
        }
        (Op::Mod, Int(x), Int(y)) => {
            if y == 0 {
                return Err(calc("integer division or modulo by zero"));
            }
            // Only i64::MIN % -1 overflows, and its remainder is 0.
            let r = x.checked_rem(y).unwrap_or(0);
            Ok(Int(if r != 0 && (r < 0) != (y < 0) {
                r + y
            } else {
                r
            }))
        }
        (Op::FloorDiv, ..) => {
            let (x, y) = (a.as_f64(), b.as_f64());
            if y == 0.0 {
                return Err(calc("float floor division by zero"));
            }
            finite(py_float_divmod(x, y).0)
        }
        (Op::Mod, ..) => {
            let (x, y) = (a.as_f64(), b.as_f64());
            if y == 0.0 {
                return Err(calc("float modulo"));
            }
            finite(py_float_divmod(x, y).1)
        }
        (Op::Pow, Int(x), Int(y)) => pow_int(x, y),
        (Op::Pow, ..) => {
            let (x, y) = (a.as_f64(), b.as_f64());
            if x == 0.0 && y < 0.0 {
                return Err(calc("0.0 cannot be raised to a negative power"));
            }
            if x < 0.0 && y.fract() != 0.0 {
                // Python answers with a complex number here.
                return Err(calc("complex results are not supported"));
            }
            finite(x.powf(y))
        }
    }
}

/// Python's `//` on integers (rounds toward negative infinity); `None` on overflow.
fn floor_div_int(x: i64, y: i64) -> Option<i64> {
    let q = x.checked_div(y)?;
    if (x % y != 0) && ((x < 0) != (y < 0)) {
        q.checked_sub(1)
    } else {
        Some(q)
    }
}

/// CPython's `float_divmod`: floor quotient and a remainder with the divisor's sign.
fn py_float_divmod(x: f64, y: f64) -> (f64, f64) {
    let mut m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m += y;
            div -= 1.0;
        }
    } else {
        m = 0.0_f64.copysign(y);
    }
    let floordiv = if div != 0.0 {
        let f = div.floor();
        if div - f > 0.5 { f + 1.0 } else { f }
    } else {
        0.0_f64.copysign(x / y)
    };
    (floordiv, m)
}

fn pow_int(x: i64, y: i64) -> Result<Num, CalcError> {
    if y < 0 {
        if x == 0 {
            return Err(calc("0.0 cannot be raised to a negative power"));
        }
        return finite((x as f64).powf(y as f64));
    }
    // These stay exact for any exponent, however large.
    match x {
        0 => return Ok(Num::Int(if y == 0 { 1 } else { 0 })),
        1 => return Ok(Num::Int(1)),
        -1 => return Ok(Num::Int(if y % 2 == 0 { 1 } else { -1 })),
        _ => {}
    }
    // |x| >= 2, so any exponent of 64 or more overflows; checked_pow is O(log y) anyway.
    let exact = u32::try_from(y).ok().and_then(|e| x.checked_pow(e));
    int_or_float(exact, || (x as f64).powf(y as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(expr: &str) -> Num {
        match evaluate(expr) {
            Ok(n) => n,
            Err(e) => panic!("{expr:?}: {e}"),
        }
    }

    fn err(expr: &str) -> String {
        match evaluate(expr) {
            Ok(n) => panic!("{expr:?} gave {n:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn python_semantics() {
        assert_eq!(ok("2+3"), Num::Int(5));
        assert_eq!(ok("2 ** 10"), Num::Int(1024));
        assert_eq!(ok("100 / 7"), Num::Float(100.0 / 7.0));
        assert_eq!(ok("4/2"), Num::Float(2.0));
        assert_eq!(ok("-2**2"), Num::Int(-4));
        assert_eq!(ok("2**-1"), Num::Float(0.5));
        assert_eq!(ok("2**3**2"), Num::Int(512));
        assert_eq!(ok("-7 // 2"), Num::Int(-4));
        assert_eq!(ok("7 // -2"), Num::Int(-4));
        assert_eq!(ok("-7 % 3"), Num::Int(2));
        assert_eq!(ok("7 % -3"), Num::Int(-2));
        assert_eq!(ok("-7.5 // 2"), Num::Float(-4.0));
        assert_eq!(ok("-7.5 % 2"), Num::Float(0.5));
        assert_eq!(ok("(1 + 2) * 3 - 4 / 8"), Num::Float(8.5));
        assert_eq!(ok("1_000 + .5 + 1e3 + 2."), Num::Float(2002.5));
        assert_eq!(ok("--+-3"), Num::Int(-3));
        assert_eq!(ok(" \t(\n1\n)\n"), Num::Int(1));
        assert_eq!(ok("0 ** 0"), Num::Int(1));
        assert_eq!(ok("(-1) ** 1000000000001"), Num::Int(-1));
    }

    #[test]
    fn overflow_becomes_float_or_an_error_never_a_panic() {
        assert_eq!(
            ok("9223372036854775807 + 1"),
            Num::Float(9223372036854775808.0)
        );
        assert_eq!(ok("-9223372036854775807 - 1"), Num::Int(i64::MIN));
        assert_eq!(
            ok("-(-9223372036854775807 - 1)"),
            Num::Float(9223372036854775808.0)
        );
        assert_eq!(
            ok("(-9223372036854775807 - 1) // -1"),
            Num::Float(9223372036854775808.0)
        );
        assert_eq!(ok("(-9223372036854775807 - 1) % -1"), Num::Int(0));
        assert_eq!(ok("2 ** 64"), Num::Float(18446744073709551616.0));
        assert_eq!(ok("99999999999999999999"), Num::Float(1e20));
        assert_eq!(err("9**9**9"), "Calculation error: result too large");
        assert_eq!(err("10 ** 400"), "Calculation error: result too large");
        assert_eq!(
            err("2 ** 99999999999999999999"),
            "Calculation error: result too large"
        );
        assert_eq!(err("1e308 * 10"), "Calculation error: result too large");
        assert_eq!(err("1e999"), "Calculation error: result too large");
        assert_eq!(
            err("(-8) ** 0.5"),
            "Calculation error: complex results are not supported"
        );
    }

    #[test]
    fn error_texts() {
        assert_eq!(err("1/0"), "Calculation error: division by zero");
        assert_eq!(err("1.0/0"), "Calculation error: float division by zero");
        assert_eq!(
            err("1//0"),
            "Calculation error: integer division or modulo by zero"
        );
        assert_eq!(
            err("1%0"),
            "Calculation error: integer division or modulo by zero"
        );
        assert_eq!(err("1.5%0"), "Calculation error: float modulo");
        assert_eq!(
            err("0 ** -1"),
            "Calculation error: 0.0 cannot be raised to a negative power"
        );
        assert_eq!(err("abs(-1)"), "Function calls not allowed");
        assert_eq!(err("x + 1"), "Variable names not allowed");
        // Checked on the whole expression before anything is evaluated, like Python's AST walk.
        assert_eq!(err("1/0 + x"), "Variable names not allowed");
        assert!(err("").starts_with("Calculation error: empty"));
        assert!(err("1 +").starts_with("Calculation error: unexpected end"));
        assert!(err("(1").starts_with("Calculation error: '(' was never closed"));
        assert!(err("1)").starts_with("Calculation error: invalid syntax"));
        assert!(err("1 2").starts_with("Calculation error: invalid syntax"));
        assert!(err("2x").starts_with("Calculation error: invalid number"));
        assert!(err("1.2.3").starts_with("Calculation error: invalid number"));
        assert!(err("012").starts_with("Calculation error: leading zeros"));
        assert!(err(".").starts_with("Calculation error: invalid number"));
        assert!(err("'a' * 10").starts_with("Calculation error: unexpected character"));
    }

    #[test]
    fn hostile_input_is_bounded() {
        let long = "1+".repeat(5_000) + "1";
        assert!(err(&long).contains("too long"));
        let deep = "(".repeat(1_000) + "1" + &")".repeat(1_000);
        assert!(err(&deep).contains("nested too deeply"));
        let unary = "-".repeat(1_000) + "1";
        assert!(err(&unary).contains("nested too deeply"));
        let tower = vec!["2"; 500].join("**");
        assert!(err(&tower).contains("nested too deeply"));
        // Just inside the bounds: still evaluated, without deep recursion.
        let within = "(".repeat(MAX_DEPTH - 1) + "1" + &")".repeat(MAX_DEPTH - 1);
        assert_eq!(ok(&within), Num::Int(1));
        let flat = "1+".repeat(MAX_LEN / 2 - 1) + "1";
        assert_eq!(ok(&flat), Num::Int((MAX_LEN / 2) as i64));
        assert!(
            err("１+１").starts_with("Calculation error: unexpected character '１' at position 0")
        );
        assert!(err("2 × 3").contains("'×' at position 2"));
        assert!(err("1 + \u{0}").contains("unexpected character"));
    }

    #[tokio::test]
    async fn tool_output_shape() {
        let ctx = crate::tool::ToolContext {
            model: "m".into(),
            max_tokens: 1,
            temperature: 0.0,
            project_id: None,
            workspace: None,
            user_id: 1,
            cancel: Default::default(),
            hooks: Default::default(),
        };
        let args = |v: Value| v.as_object().cloned().unwrap();
        let run = |a| Calculator.run(a, &ctx);
        assert_eq!(
            run(args(json!({"expression": "2+3"}))).await,
            Ok(json!({"result": 5}))
        );
        assert_eq!(
            run(args(json!({"expression": "100/7"}))).await,
            Ok(json!({"result": 14.285714285714286}))
        );
        assert_eq!(
            run(args(json!({"expression": "1/0"}))).await,
            Ok(json!({"error": "Calculation error: division by zero"}))
        );
        assert!(run(args(json!({}))).await.is_err());
        assert!(run(args(json!({"expression": 5}))).await.is_err());
    }
}

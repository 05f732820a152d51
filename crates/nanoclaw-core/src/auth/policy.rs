//! Password policy (NIST 800-63B style): a minimum length, a generous maximum, no composition
//! rules, and a guessability check with zxcvbn. Nothing is ever truncated.

use crate::user::limits::PASSWORD_MAX;

/// Characters zxcvbn looks at: its cost grows with length, and a password this long that is
/// weak in its first part is still weak.
const SCORED_CHARS: usize = 64;

/// The rules for new passwords.
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Minimum zxcvbn score (0–4); 0 = no check.
    pub min_score: u8,
}

impl PasswordPolicy {
    /// Why `password` is not acceptable, if it is not. `context` holds words that make a
    /// password easy to guess for this account (username, e-mail).
    pub fn check(&self, password: &str, context: &[&str]) -> Result<(), String> {
        let len = password.chars().count();
        if len < self.min_length {
            return Err(format!(
                "Password must be at least {} characters",
                self.min_length
            ));
        }
        if len > PASSWORD_MAX {
            return Err(format!(
                "Password must be at most {PASSWORD_MAX} characters"
            ));
        }
        if self.min_score > 0 {
            let scored: String = password.chars().take(SCORED_CHARS).collect();
            let score = u8::from(zxcvbn::zxcvbn(&scored, context).score());
            if score < self.min_score {
                return Err(
                    "Password is too easy to guess; use a longer phrase or less common words"
                        .into(),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: PasswordPolicy = PasswordPolicy {
        min_length: 8,
        min_score: 2,
    };

    #[test]
    fn guessable_passwords_are_refused() {
        for weak in ["password", "12345678", "qwertyuiop", "iloveyou1"] {
            assert!(
                DEFAULT.check(weak, &[]).unwrap_err().contains("too easy"),
                "{weak}"
            );
        }
        for strong in [
            "correct horse battery staple",
            "tr0ub4dor&3-purple-kettle",
            &"long phrase ".repeat(30),
        ] {
            assert!(DEFAULT.check(strong, &[]).is_ok(), "{strong}");
        }
    }

    #[test]
    fn length_rules_and_switch() {
        assert!(
            DEFAULT
                .check("short", &[])
                .unwrap_err()
                .contains("at least 8")
        );
        assert!(
            DEFAULT
                .check(&"x".repeat(1025), &[])
                .unwrap_err()
                .contains("at most 1024")
        );
        let off = PasswordPolicy {
            min_length: 4,
            min_score: 0,
        };
        assert!(off.check("pass", &[]).is_ok());
        // 128+ characters are fine and never truncated by the policy.
        assert!(DEFAULT.check(&"Zebra-Quilt-Mango-".repeat(8), &[]).is_ok());
    }
}

//! Assembling one round's streamed tool-call pieces into complete calls (chat.md §4).

use std::collections::BTreeMap;

use nanoclaw_llm::ToolCall;

/// Collects [`nanoclaw_llm::Delta::ToolCall`] pieces keyed by their `index`.
///
/// A non-empty `id` or `name` replaces the earlier one, `arguments` pieces are appended. Unlike
/// nanoClaw, indexes may arrive in any order or with gaps; calls come out in index order.
#[derive(Debug, Default)]
pub struct ToolCallAssembler {
    calls: BTreeMap<u32, ToolCall>,
}

impl ToolCallAssembler {
    /// Merges one piece.
    pub fn push(
        &mut self,
        index: u32,
        id: Option<&str>,
        name: Option<&str>,
        arguments: Option<&str>,
    ) {
        let call = self.calls.entry(index).or_insert_with(|| ToolCall {
            id: String::new(),
            name: String::new(),
            arguments: String::new(),
        });
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            id.clone_into(&mut call.id);
        }
        if let Some(name) = name.filter(|s| !s.is_empty()) {
            name.clone_into(&mut call.name);
        }
        if let Some(arguments) = arguments {
            call.arguments.push_str(arguments);
        }
    }

    /// Whether no piece arrived.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The complete calls in index order. A call the provider sent without an id gets
    /// `call_<round>_<index>`, unique within the answer, so its result can be matched to it.
    pub fn finish(self, round: u32) -> Vec<ToolCall> {
        self.calls
            .into_iter()
            .map(|(index, mut call)| {
                if call.id.is_empty() {
                    call.id = format!("call_{round}_{index}");
                }
                call
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_arguments_several_calls_out_of_order_and_missing_ids() {
        let mut a = ToolCallAssembler::default();
        assert!(a.is_empty());
        a.push(0, Some("call_a"), Some("calculator"), Some(""));
        a.push(2, None, Some("calculator"), Some("{\"expr"));
        a.push(0, None, None, Some("{\"expression\": "));
        a.push(2, Some(""), Some(""), Some("ession\": \"1\"}"));
        a.push(0, Some(""), None, Some("\"2+3\"}"));
        a.push(1, Some("call_b"), Some("other"), None);
        let calls = a.finish(3);
        assert_eq!(calls.len(), 3);
        assert_eq!(
            calls[0],
            ToolCall {
                id: "call_a".into(),
                name: "calculator".into(),
                arguments: "{\"expression\": \"2+3\"}".into()
            }
        );
        assert_eq!(
            (calls[1].id.as_str(), calls[1].arguments.as_str()),
            ("call_b", "")
        );
        assert_eq!(calls[2].id, "call_3_2");
        assert_eq!(calls[2].arguments, "{\"expression\": \"1\"}");
    }
}

//! Error text fit for a user: one line, no source locations, no stack
//! traces.

/// The message of a tendermint-rpc error report without what follows it.
///
/// tendermint-rpc's errors (flex-error with its eyre tracer) display as a
/// report: the error, `Caused by:` and its causes, then `Location:` and,
/// when `RUST_BACKTRACE` is set, `Stack backtrace:` with every frame. That
/// is 20 KiB and more: sent as gRPC's `grpc-message` it overflows the
/// 16 KiB header list clients accept, and shown to a user it is a stack
/// trace where a sentence belongs. The
/// message and its causes are kept on one line; location and trace go.
/// Any other error's text passes through with its whitespace collapsed.
pub fn report_head(report: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for paragraph in report.split("\n\n") {
        let paragraph = paragraph.trim();
        if paragraph.starts_with("Location:") || paragraph.starts_with("Stack backtrace:") {
            break;
        }
        let paragraph = paragraph.strip_prefix("Caused by:").unwrap_or(paragraph);
        let line = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
        if !line.is_empty() {
            parts.push(line);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::report_head;

    #[test]
    fn causes_join_one_line_and_a_plain_message_passes_through() {
        assert_eq!(
            report_head(
                "response error\n\nCaused by:\n    0: a\n    1: b\n\nLocation:\n    x.rs:1:1"
            ),
            "response error: 0: a 1: b"
        );
        assert_eq!(report_head("connection refused"), "connection refused");
        assert_eq!(report_head(""), "");
    }
}

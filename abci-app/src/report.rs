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

/// `e` and its causes on one line, joined by ": ", each without the
/// source location and stack trace of an error report ([`report_head`]),
/// a cause repeating the one before it said once: what a command prints
/// after `Error:` and what a daemon reports as a reason.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let head = report_head(&cause.to_string());
        if !head.is_empty() && parts.last().is_none_or(|last| *last != head) {
            parts.push(head);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::{error_chain, report_head};

    #[test]
    fn error_chains_keep_every_cause_and_drop_reports_and_stack_traces() {
        #[derive(Debug)]
        struct Rpc;
        impl std::fmt::Display for Rpc {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "HTTP error\n\nCaused by:\n  refused\n\nLocation:\n  x.rs:1:1\n\n\
                     Stack backtrace:\n  0: main",
                )
            }
        }
        impl std::error::Error for Rpc {}
        let e = anyhow::Error::new(Rpc).context("cannot reach http://n:1");
        assert_eq!(
            error_chain(&e),
            "cannot reach http://n:1: HTTP error: refused"
        );
        let e = anyhow::anyhow!("a").context("b").context("b");
        assert_eq!(error_chain(&e), "b: a");
    }

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

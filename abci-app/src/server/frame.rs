//! ABCI socket framing: every message is a protobuf body preceded by its
//! length as an unsigned varint (CometBFT's `protoio` delimited format).
//!
//! Reading is bounded: a length above [`MAX_FRAME_BYTES`] or a varint longer
//! than ten bytes is refused before anything is allocated, and the body is
//! read as it arrives, so a peer that announces a large frame and sends
//! little costs only what it sent.

use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request frame accepted. CometBFT's largest request is a
/// FinalizeBlock of a block of at most 100 MiB (`types.MaxBlockSizeBytes`)
/// plus its commit info, so 128 MiB admits every request CometBFT can send.
pub const MAX_FRAME_BYTES: u64 = 128 * 1024 * 1024;

/// What the body buffer starts with: most frames are small, and a large one
/// grows the buffer only as its bytes arrive.
const INITIAL_BODY_CAPACITY: u64 = 64 * 1024;

/// Why a frame could not be read. Each of these ends the connection: the
/// byte stream has no recoverable message boundary after them.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The socket failed.
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed in the middle of a frame ({got} of {want} bytes)")]
    Truncated {
        /// Bytes of the frame received.
        got: u64,
        /// Bytes announced (0 when the length prefix itself was cut).
        want: u64,
    },
    /// The length prefix is not a valid unsigned varint of at most 64 bits.
    #[error("the length prefix is not a valid varint")]
    BadLength,
    /// The announced length exceeds [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(u64),
}

/// Reads one frame's body; `Ok(None)` when the peer closed the connection
/// cleanly between frames.
pub async fn read<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: u64,
) -> Result<Option<Vec<u8>>, FrameError> {
    let Some(len) = read_length(reader, max).await? else {
        return Ok(None);
    };
    let mut body = body_buffer(len);
    read_into(reader, &mut body, len).await?;
    Ok(Some(body))
}

/// A buffer for a body of `len` bytes, sized for what usually comes.
pub fn body_buffer(len: u64) -> Vec<u8> {
    Vec::with_capacity(usize::try_from(len.min(INITIAL_BODY_CAPACITY)).unwrap_or(0))
}

/// Appends exactly `n` bytes from `reader` to `buf`, as they arrive.
pub async fn read_into<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    n: u64,
) -> Result<(), FrameError> {
    let got = (&mut *reader).take(n).read_to_end(buf).await? as u64;
    if got != n {
        return Err(FrameError::Truncated { got, want: n });
    }
    Ok(())
}

/// Reads a frame's varint length prefix, refusing lengths above `max`;
/// `None` on a clean end of stream.
pub async fn read_length<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: u64,
) -> Result<Option<u64>, FrameError> {
    let mut len = 0u64;
    for i in 0..10u32 {
        let byte = match reader.read_u8().await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return if i == 0 {
                    Ok(None)
                } else {
                    Err(FrameError::Truncated { got: 0, want: 0 })
                };
            }
            Err(e) => return Err(e.into()),
        };
        // The tenth byte may only contribute the 64th bit.
        if i == 9 && byte > 1 {
            return Err(FrameError::BadLength);
        }
        len |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if len > max {
                return Err(FrameError::TooLarge(len));
            }
            return Ok(Some(len));
        }
    }
    Err(FrameError::BadLength)
}

/// Writes one frame holding `message` (not flushed).
pub async fn write<W: AsyncWrite + Unpin, M: Message>(
    writer: &mut W,
    message: &M,
) -> std::io::Result<()> {
    let body = message.encode_to_vec();
    let mut head = Vec::with_capacity(10);
    prost::encoding::encode_varint(body.len() as u64, &mut head);
    writer.write_all(&head).await?;
    writer.write_all(&body).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tendermint_proto::v0_38::abci as pb;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_varint(body.len() as u64, &mut out);
        out.extend_from_slice(body);
        out
    }

    #[tokio::test]
    async fn frames_are_read_back_to_back_and_a_clean_end_is_none() {
        let big = vec![7u8; 300_000];
        let mut bytes = framed(b"abc");
        bytes.extend(framed(&[]));
        bytes.extend(framed(&big));
        let mut r = bytes.as_slice();
        assert_eq!(
            read(&mut r, MAX_FRAME_BYTES).await.unwrap().unwrap(),
            b"abc"
        );
        assert_eq!(read(&mut r, MAX_FRAME_BYTES).await.unwrap().unwrap(), b"");
        assert_eq!(read(&mut r, MAX_FRAME_BYTES).await.unwrap().unwrap(), big);
        assert!(read(&mut r, MAX_FRAME_BYTES).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_oversized_length_is_refused_before_reading_the_body() {
        let mut bytes = Vec::new();
        prost::encoding::encode_varint(MAX_FRAME_BYTES + 1, &mut bytes);
        let mut r = bytes.as_slice();
        assert!(matches!(
            read(&mut r, MAX_FRAME_BYTES).await,
            Err(FrameError::TooLarge(n)) if n == MAX_FRAME_BYTES + 1
        ));
        // u64::MAX is a valid ten-byte varint, and too large.
        let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(matches!(
            read(&mut r, MAX_FRAME_BYTES).await,
            Err(FrameError::TooLarge(u64::MAX))
        ));
    }

    #[tokio::test]
    async fn malformed_and_cut_prefixes_are_errors() {
        // Eleven continuation bytes: not a varint.
        let mut r: &[u8] = &[0x80; 11];
        assert!(matches!(
            read(&mut r, MAX_FRAME_BYTES).await,
            Err(FrameError::BadLength)
        ));
        // A tenth byte above 1 would overflow 64 bits.
        let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(matches!(
            read(&mut r, MAX_FRAME_BYTES).await,
            Err(FrameError::BadLength)
        ));
        // The prefix is cut, then the body is cut.
        let mut r: &[u8] = &[0x80];
        assert!(matches!(
            read(&mut r, MAX_FRAME_BYTES).await,
            Err(FrameError::Truncated { .. })
        ));
        let mut r: &[u8] = &[5, 1, 2];
        assert!(matches!(
            read(&mut r, MAX_FRAME_BYTES).await,
            Err(FrameError::Truncated { got: 2, want: 5 })
        ));
    }

    #[tokio::test]
    async fn a_written_response_reads_back_as_one_frame() {
        let response = pb::Response {
            value: Some(pb::response::Value::Flush(pb::ResponseFlush {})),
        };
        let mut out = Vec::new();
        write(&mut out, &response).await.unwrap();
        let mut r = out.as_slice();
        let body = read(&mut r, MAX_FRAME_BYTES).await.unwrap().unwrap();
        assert_eq!(pb::Response::decode(body.as_slice()).unwrap(), response);
        assert!(r.is_empty());
    }
}

//! copro-proto: the protocol of copro's coprocessor module as protobuf
//! (package `copro.coprocessor.v1`): messages and the `Msg` service, queries
//! and the `Query` service, genesis and events. The `.proto` sources live in
//! `proto/copro/coprocessor/v1/` and are compiled at build time (protox and
//! prost-build, no `protoc`); every field is documented in
//! `docs/protocol.md`.
//!
//! Every message implements [`prost::Name`], so its type URL is
//! `/copro.coprocessor.v1.<Name>`:
//!
//! ```
//! use copro_proto::coprocessor::v1::MsgDeposit;
//! use prost::Name;
//! assert_eq!(MsgDeposit::type_url(), "/copro.coprocessor.v1.MsgDeposit");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Package `copro.coprocessor`.
pub mod coprocessor {
    /// Package `copro.coprocessor.v1`, generated from the `.proto` files.
    #[allow(clippy::all, clippy::pedantic)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/copro.coprocessor.v1.rs"));
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of every `.proto` file of
/// this crate, with source comments (for gRPC reflection and tests).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/copro_descriptor.bin"));

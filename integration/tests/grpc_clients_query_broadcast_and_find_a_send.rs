//! A node's gRPC endpoint, driven by the tonic clients cosmos-sdk-proto
//! generates (what the Go and Python SDKs, wallets and explorers use): the
//! auth, bank, tendermint and coprocessor queries answer what `abci_query`
//! answers, `x-cosmos-block-height` selects the state read, a cosmrs-signed
//! send goes in through `BroadcastTx` and is found with `GetTx` and
//! `GetTxsEvent`, and bad input gets an error status, never a dead node.
// Test code: measures time to wait for blocks and report latencies.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use copro_coprocessor::record::pb;
use copro_integration::{SendTx, TestNet, Wallet, account_numbers, copro_query};
use cosmrs::proto::cosmos::auth::v1beta1::{
    BaseAccount, QueryAccountRequest, QueryAccountsRequest,
    QueryParamsRequest as AuthParamsRequest, query_client::QueryClient as AuthClient,
};
use cosmrs::proto::cosmos::bank::v1beta1::{
    QueryAllBalancesRequest, QueryBalanceRequest, QueryBalanceResponse, QueryDenomMetadataRequest,
    QueryParamsRequest, QuerySpendableBalancesRequest, QuerySupplyOfRequest,
    QueryTotalSupplyRequest, query_client::QueryClient as BankClient,
};
use cosmrs::proto::cosmos::base::tendermint::v1beta1::{
    GetBlockByHeightRequest, GetLatestBlockRequest, GetNodeInfoRequest, GetSyncingRequest,
    service_client::ServiceClient as TmClient,
};
use cosmrs::proto::cosmos::tx::v1beta1::{
    BroadcastMode, BroadcastTxRequest, GetTxRequest, GetTxsEventRequest, SimulateRequest,
    service_client::ServiceClient as TxClient,
};
use prost::Message;
use tonic::transport::Channel;
use tonic::{Code, Request};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

const DENOM: &str = "ucopro";
const HEIGHT: &str = "x-cosmos-block-height";

fn at_height<T>(msg: T, height: &str) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut()
        .insert(HEIGHT, height.parse().expect("ASCII header value"));
    req
}

fn balance_req(address: &str) -> QueryBalanceRequest {
    QueryBalanceRequest {
        address: address.to_string(),
        denom: DENOM.to_string(),
    }
}

fn amount(resp: &QueryBalanceResponse) -> u128 {
    resp.balance.as_ref().unwrap().amount.parse().unwrap()
}

/// A unary call on a method no generated client knows (the coprocessor's
/// own service, or one this node does not serve).
async fn raw_call<Req, Resp>(
    channel: &Channel,
    path: &'static str,
    req: Req,
) -> Result<Resp, tonic::Status>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    grpc.unary(
        Request::new(req),
        http::uri::PathAndQuery::from_static(path),
        tonic::codec::ProstCodec::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_clients_query_broadcast_and_find_a_send() -> anyhow::Result<()> {
    let started = Instant::now();
    let net = TestNet::start(1, 28300).await?;
    let rpc = net.client(0);
    let alice = net.wallet("alice")?;
    let alice_addr = alice.address.to_string();
    let url = net.net.state().nodes[0].ports.grpc_url();
    let channel = Channel::from_shared(url.clone())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await?;
    let mut auth = AuthClient::new(channel.clone());
    let mut bank = BankClient::new(channel.clone());
    let mut tm = TmClient::new(channel.clone());
    let mut txs = TxClient::new(channel.clone());

    // auth: the funded account, as abci_query reports it.
    let account = auth
        .account(QueryAccountRequest {
            address: alice_addr.clone(),
        })
        .await?
        .into_inner()
        .account
        .unwrap();
    assert_eq!(account.type_url, "/cosmos.auth.v1beta1.BaseAccount");
    let base = BaseAccount::decode(account.value.as_slice())?;
    assert_eq!(base.address, alice_addr);
    let (number, _) = account_numbers(&rpc, &alice.address).await?;
    assert_eq!(base.account_number, number);
    let listed = auth
        .accounts(QueryAccountsRequest { pagination: None })
        .await?
        .into_inner()
        .accounts;
    assert!(
        listed
            .iter()
            .any(|a| BaseAccount::decode(a.value.as_slice()).is_ok_and(|b| b.address == alice_addr)),
        "Accounts does not list alice"
    );
    let auth_params = auth
        .params(AuthParamsRequest {})
        .await?
        .into_inner()
        .params
        .unwrap();
    assert_eq!(auth_params.tx_sig_limit, 1);
    assert_eq!(auth_params.max_memo_characters, 256);

    // bank: balance, all balances, spendable, supply, params, metadata.
    let resp = bank.balance(balance_req(&alice_addr)).await?;
    let height_read: u64 = resp.metadata().get(HEIGHT).unwrap().to_str()?.parse()?;
    assert!(height_read >= 1, "reported height {height_read}");
    let alice_balance = amount(resp.get_ref());
    assert!(alice_balance > 0);
    assert_eq!(
        alice_balance,
        copro_integration::balance(&rpc, &alice.address).await?
    );
    let all = bank
        .all_balances(QueryAllBalancesRequest {
            address: alice_addr.clone(),
            pagination: None,
            resolve_denom: false,
        })
        .await?
        .into_inner()
        .balances;
    assert!(all.iter().any(|c| c.denom == DENOM));
    let spendable = bank
        .spendable_balances(QuerySpendableBalancesRequest {
            address: alice_addr.clone(),
            pagination: None,
        })
        .await?
        .into_inner()
        .balances;
    assert_eq!(spendable, all);
    let supply = bank
        .total_supply(QueryTotalSupplyRequest { pagination: None })
        .await?
        .into_inner()
        .supply;
    let supply_of = bank
        .supply_of(QuerySupplyOfRequest {
            denom: DENOM.into(),
        })
        .await?
        .into_inner()
        .amount
        .unwrap();
    assert_eq!(
        supply.iter().find(|c| c.denom == DENOM),
        Some(&supply_of),
        "TotalSupply and SupplyOf disagree"
    );
    assert!(supply_of.amount.parse::<u128>()? >= alice_balance);
    let params = bank.params(QueryParamsRequest {}).await?.into_inner();
    assert!(params.params.unwrap().default_send_enabled);
    let e = bank
        .denom_metadata(QueryDenomMetadataRequest {
            denom: DENOM.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");

    // tendermint: node info, syncing, blocks.
    let info = tm.get_node_info(GetNodeInfoRequest {}).await?.into_inner();
    assert_eq!(info.default_node_info.unwrap().network, net.chain_id());
    assert_eq!(info.application_version.unwrap().app_name, "coprod");
    assert!(
        !tm.get_syncing(GetSyncingRequest {})
            .await?
            .into_inner()
            .syncing
    );
    let latest = tm
        .get_latest_block(GetLatestBlockRequest {})
        .await?
        .into_inner();
    let header = latest.block.unwrap().header.unwrap();
    assert_eq!(header.chain_id, net.chain_id());
    assert!(header.height >= 1);
    let sdk_header = latest.sdk_block.unwrap().header.unwrap();
    assert_eq!(sdk_header.height, header.height);
    assert!(
        sdk_header.proposer_address.starts_with("coprovalcons1"),
        "{}",
        sdk_header.proposer_address
    );
    let first = tm
        .get_block_by_height(GetBlockByHeightRequest { height: 1 })
        .await?
        .into_inner();
    assert_eq!(first.block.unwrap().header.unwrap().height, 1);
    assert_eq!(first.block_id.unwrap().hash.len(), 32);

    // The coprocessor's own service answers what abci_query answers.
    let over_grpc: pb::QueryParamsResponse = raw_call(
        &channel,
        "/copro.coprocessor.v1.Query/Params",
        pb::QueryParamsRequest {},
    )
    .await?;
    let over_abci: pb::QueryParamsResponse =
        copro_query(&rpc, "Params", pb::QueryParamsRequest {}).await?;
    assert_eq!(over_grpc, over_abci);
    assert!(over_grpc.params.is_some());

    // Reflection lists the services this node has descriptors for.
    let mut reflection = ServerReflectionClient::new(channel.clone());
    let list = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let answer = reflection
        .server_reflection_info(futures::stream::iter([list]))
        .await?
        .into_inner()
        .message()
        .await?
        .unwrap();
    let Some(MessageResponse::ListServicesResponse(services)) = answer.message_response else {
        anyhow::bail!("reflection answered {answer:?}");
    };
    let names: Vec<_> = services.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"copro.coprocessor.v1.Query"), "{names:?}");

    // A send signed with cosmrs, simulated, broadcast and found over gRPC.
    let bob = Wallet::random()?;
    let bob_addr = bob.address.to_string();
    let (number, sequence) = account_numbers(&rpc, &alice.address).await?;
    let tx = SendTx::new(&alice, &bob.address, 1234, net.chain_id(), number, sequence).sign()?;
    let sim = txs
        .simulate(SimulateRequest {
            tx_bytes: tx.clone(),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert!(sim.gas_info.unwrap().gas_used > 0);
    let sent = txs
        .broadcast_tx(BroadcastTxRequest {
            tx_bytes: tx,
            mode: BroadcastMode::Sync.into(),
        })
        .await?
        .into_inner()
        .tx_response
        .unwrap();
    assert_eq!(sent.code, 0, "CheckTx refused the send: {}", sent.raw_log);
    assert_eq!(sent.txhash.len(), 64);
    let deadline = Instant::now() + Duration::from_secs(20);
    let found = loop {
        match txs
            .get_tx(GetTxRequest {
                hash: sent.txhash.clone(),
            })
            .await
        {
            Ok(found) => break found.into_inner(),
            Err(e) if e.code() == Code::NotFound && Instant::now() < deadline => {
                // The node's error report loses tendermint-rpc's location and
                // stack trace (RUST_BACKTRACE is set in tests): with them the
                // message overflowed the client's 16 KiB header limit.
                assert!(
                    e.message().len() <= coprod::grpc::MAX_STATUS_MESSAGE_BYTES
                        && !e.message().contains("backtrace"),
                    "{}",
                    e.message()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => anyhow::bail!("GetTx {}: {e:?}", sent.txhash),
        }
    };
    let included = found.tx_response.unwrap();
    assert_eq!(included.code, 0, "{}", included.raw_log);
    assert_eq!(included.txhash, sent.txhash);
    assert!(included.gas_used > 0 && included.height > 0);
    tendermint::Time::parse_from_rfc3339(&included.timestamp)
        .map_err(|e| anyhow::anyhow!("timestamp {:?}: {e}", included.timestamp))?;
    let body = found.tx.unwrap().body.unwrap();
    assert_eq!(body.messages[0].type_url, "/cosmos.bank.v1beta1.MsgSend");
    let by_event = txs
        .get_txs_event(GetTxsEventRequest {
            query: format!("tx.height={}", included.height),
            limit: 10,
            ..Default::default()
        })
        .await?
        .into_inner();
    let listed = by_event
        .tx_responses
        .iter()
        .find(|t| t.txhash == sent.txhash)
        .ok_or_else(|| anyhow::anyhow!("GetTxsEvent did not find {}", sent.txhash))?;
    assert_eq!(listed.timestamp, included.timestamp);

    // The height header selects the state: bob had nothing before the block.
    let h = included.height;
    let before = bank
        .balance(at_height(balance_req(&bob_addr), &(h - 1).to_string()))
        .await?;
    assert_eq!(amount(before.get_ref()), 0);
    assert_eq!(
        before.metadata().get(HEIGHT).unwrap().to_str()?,
        (h - 1).to_string()
    );
    let after = bank
        .balance(at_height(balance_req(&bob_addr), &h.to_string()))
        .await?;
    assert_eq!(amount(after.get_ref()), 1234);
    assert_eq!(
        amount(bank.balance(balance_req(&bob_addr)).await?.get_ref()),
        1234
    );

    // Bad input is an error status naming the problem.
    let e = bank.balance(balance_req("cosmos1nope")).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = bank
        .balance(at_height(balance_req(&alice_addr), "1000000000000"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("not available"), "{e:?}");
    let e = bank
        .balance(at_height(balance_req(&alice_addr), "-1"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    // Bob's address with its last checksum character changed.
    let (head, last) = bob_addr.split_at(bob_addr.len() - 1);
    let corrupted = format!("{head}{}", if last == "q" { "p" } else { "q" });
    let e = auth
        .account(QueryAccountRequest { address: corrupted })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = auth
        .account(QueryAccountRequest {
            address: Wallet::random()?.address.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let e = tm
        .get_block_by_height(GetBlockByHeightRequest { height: 1 << 40 })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = tm
        .get_block_by_height(GetBlockByHeightRequest { height: -5 })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = txs
        .get_tx(GetTxRequest { hash: "zz".into() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = txs
        .get_tx(GetTxRequest {
            hash: "AB".repeat(32),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let e = txs
        .broadcast_tx(BroadcastTxRequest {
            tx_bytes: vec![1, 2, 3],
            mode: BroadcastMode::Block.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = txs
        .simulate(SimulateRequest {
            tx_bytes: vec![0; 1 << 20],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "an oversized request: {e:?}");
    let e = raw_call::<_, QueryBalanceResponse>(
        &channel,
        "/cosmos.staking.v1beta1.Query/Validators",
        QueryTotalSupplyRequest { pagination: None },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented, "{e:?}");

    // HTTP/1 and garbage on the gRPC port close that connection only.
    let port = net.net.state().nodes[0].ports.grpc;
    for probe in [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], &[0xff; 4096][..]] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(probe).await?;
        let mut answer = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the gRPC port kept a garbage connection open");
    }

    // Still serving after all of that.
    assert_eq!(
        amount(bank.balance(balance_req(&bob_addr)).await?.get_ref()),
        1234
    );

    // One figure: the same balance query over gRPC and over abci_query.
    let mut grpc_times = Vec::new();
    let mut abci_times = Vec::new();
    let data = balance_req(&alice_addr).encode_to_vec();
    for _ in 0..200 {
        let t = Instant::now();
        bank.balance(balance_req(&alice_addr)).await?;
        grpc_times.push(t.elapsed());
        let t = Instant::now();
        coprod::client::abci_query(
            &rpc,
            "/cosmos.bank.v1beta1.Query/Balance",
            data.clone(),
            0,
            false,
        )
        .await?;
        abci_times.push(t.elapsed());
    }
    println!(
        "bank Balance, median of 200: gRPC {:?}, CometBFT abci_query {:?}",
        median(grpc_times),
        median(abci_times)
    );
    println!("test took {:?}", started.elapsed());
    net.passed();
    Ok(())
}

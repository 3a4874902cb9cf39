//! The prover's chain reader (`copro_prover::chain`, the base of
//! `copro-prover run`) against a real 4-validator localnet: headers verified
//! by the light client from a trusted header, the root, an account, the
//! program and the pending queue checked with ICS-23 against them. A trust
//! root with the wrong hash is refused.

use std::time::Duration;

use copro_coprocessor::record::pb;
use copro_integration::{SendTx, TestNet, height};
use copro_localnet::wallet::{account_numbers, broadcast_ok, wait_included};
use copro_prover::chain::{ChainError, TrustRoot, VerifiedChain};
use prost::{Message, Name};
use tendermint_rpc::Client;

fn trust(height: u64, hash: tendermint::Hash) -> TrustRoot {
    TrustRoot {
        height,
        hash,
        trusting_period: Duration::from_secs(3600),
        clock_drift: Duration::from_secs(10),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prover_reads_only_light_client_verified_state() -> anyhow::Result<()> {
    let net = TestNet::start(4, 27700).await?;
    let client = net.client(0);
    net.net
        .wait_for_height(0, 2, Duration::from_secs(60))
        .await?;
    let trusted = client.commit(tendermint::block::Height::from(1u32)).await?;
    let trusted_hash = trusted.signed_header.header.hash();

    // A user's deposit, so the queue holds something.
    let alice = net.wallet("alice")?;
    let (account, sequence) = account_numbers(&client, &alice.address).await?;
    let deposit = pb::MsgDeposit {
        signer: alice.address.to_string(),
        amount: 1_234,
    };
    let tx = SendTx {
        gas: 400_000,
        fee: 10_000,
        ..SendTx::new(&alice, &alice.address, 0, net.chain_id(), account, sequence)
    }
    .sign_messages(vec![cosmrs::Any {
        type_url: pb::MsgDeposit::type_url(),
        value: deposit.encode_to_vec(),
    }])?;
    let included = wait_included(&client, broadcast_ok(&client, tx).await?).await?;
    anyhow::ensure!(included.code == 0, "deposit failed: {}", included.log);
    // Header h + 1 must exist to prove the state after block h.
    let target = height(&client).await? + 1;
    net.net
        .wait_for_height(1, target, Duration::from_secs(30))
        .await?;

    let chain = VerifiedChain::connect(&net.net.rpc_url(1), trust(1, trusted_hash)).await?;
    let at = chain.latest_provable_height().await?;
    assert!(
        at >= included.height,
        "provable {at} < deposit {}",
        included.height
    );

    let root = chain.root(at).await?;
    assert_eq!(root.height, at);
    // The light client read node 1; node 0, whose header we compare with,
    // may be a block behind it.
    net.net
        .wait_for_height(0, at + 1, Duration::from_secs(30))
        .await?;
    let header = client
        .commit(tendermint::block::Height::try_from(at + 1)?)
        .await?;
    assert_eq!(
        root.app_hash.as_slice(),
        header.signed_header.header.app_hash.as_bytes(),
        "checked against the app hash of header at + 1"
    );

    let queue = chain.pending_queue(at).await?;
    assert_eq!(queue.value.entries.len(), 1);
    let entry = &queue.value.entries[0];
    assert_eq!(
        (entry.amount, entry.kind),
        (1_234, pb::EntryKind::Deposit as i32)
    );

    let account = chain
        .ledger_account(alice.address.as_ref(), at)
        .await?
        .value
        .expect("the deposit bound a ledger account");
    assert_eq!(account.balance, 0, "nothing settled yet");
    let dave = net.wallet("dave")?;
    assert!(
        chain
            .ledger_account(dave.address.as_ref(), at)
            .await?
            .value
            .is_none(),
        "a proven absence"
    );
    let program = chain.program("transfer", 1, at).await?;
    assert_eq!(program.value.batch_size, 4);

    // The same chain with a trust root whose hash is not the header's.
    let forged = tendermint::Hash::Sha256([7; 32]);
    match VerifiedChain::connect(&net.net.rpc_url(2), trust(1, forged)).await {
        Err(ChainError::TrustRoot { .. }) => {}
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a forged trust root was accepted"),
    }
    net.passed();
    Ok(())
}

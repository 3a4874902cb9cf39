//! Four real CometBFT validators, each with its own coprod: a bank send signed
//! by cosmrs alone is committed, visible on every node, every node agrees on
//! the app hash at every height, and the balance is provable with ICS-23
//! against the app hash in the next header.

use std::time::Duration;

use copro_integration::*;
use ics23::HostFunctionsManager;
use prost::Message as _;
use tendermint_rpc::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_commit_a_cosmrs_signed_send_with_identical_app_hashes()
-> anyhow::Result<()> {
    let net = TestNet::start(4, 27000).await?;
    let alice = net.wallet("alice")?;
    let bob = net.wallet("bob")?;
    let via = net.client(1); // broadcast through a node that is not node 0

    let alice_before = balance(&via, &alice.address).await?;
    let bob_before = balance(&via, &bob.address).await?;
    let (account_number, sequence) = account_numbers(&via, &alice.address).await?;
    let amount = 12_345;
    let tx = SendTx {
        memo: "e2e".into(),
        ..SendTx::new(
            &alice,
            &bob.address,
            amount,
            net.chain_id(),
            account_number,
            sequence,
        )
    }
    .sign()?;
    let included = wait_included(&via, broadcast_ok(&via, tx).await?).await?;
    assert_eq!(
        included.code, 0,
        "the send failed in its block: {}",
        included.log
    );
    let h = included.height;

    for i in 0..4 {
        net.net
            .wait_for_height(i, h + 1, Duration::from_secs(30))
            .await?;
        let c = net.client(i);
        assert_eq!(
            balance(&c, &bob.address).await?,
            bob_before + amount,
            "bob on node{i}"
        );
        assert_eq!(
            balance(&c, &alice.address).await?,
            alice_before - amount - FEE,
            "alice on node{i} pays amount and fee"
        );
        assert_eq!(
            account_numbers(&c, &alice.address).await?.1,
            sequence + 1,
            "sequence on node{i}"
        );
    }

    assert_same_app_hashes(&net, 1, h + 1).await?;
    let before = header_app_hash(&via, h).await?;
    let after = header_app_hash(&via, h + 1).await?;
    assert_ne!(before, after, "a committed send must change the app hash");

    // ICS-23: bob's balance as of height h, proven against header h+1's app hash.
    let key = copro_bank::state_key::balance(bob.address.as_ref(), DENOM);
    let res = net
        .client(2)
        .abci_query(
            Some(coprod::query::STORE_KEY_PATH.to_string()),
            key.clone(),
            Some(tendermint::block::Height::try_from(h)?),
            true,
        )
        .await?;
    assert!(res.code.is_ok(), "store query failed: {}", res.log);
    assert!(!res.value.is_empty(), "bob's balance key must exist");
    let ops = res.proof.expect("prove=true returns proof ops").ops;
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].field_type, coprod::query::PROOF_OP_TYPE);
    let proof = ics23::CommitmentProof::decode(ops[0].data.as_slice())?;
    let spec = copro_store::proof_spec();
    assert!(
        ics23::verify_membership::<HostFunctionsManager>(&proof, &spec, &after, &key, &res.value),
        "existence proof must verify against header h+1's app hash"
    );
    assert!(
        !ics23::verify_membership::<HostFunctionsManager>(&proof, &spec, &before, &key, &res.value),
        "the same proof must not verify against the previous app hash"
    );

    // A key that was never written: a non-existence proof at the same height.
    let absent = copro_bank::state_key::balance(bob.address.as_ref(), "unobtainium");
    let res = net
        .client(3)
        .abci_query(
            Some(coprod::query::STORE_KEY_PATH.to_string()),
            absent.clone(),
            Some(tendermint::block::Height::try_from(h)?),
            true,
        )
        .await?;
    assert!(res.value.is_empty());
    let proof = ics23::CommitmentProof::decode(res.proof.expect("proof").ops[0].data.as_slice())?;
    assert!(
        ics23::verify_non_membership::<HostFunctionsManager>(&proof, &spec, &after, &absent),
        "non-existence proof must verify against header h+1's app hash"
    );
    net.passed();
    Ok(())
}

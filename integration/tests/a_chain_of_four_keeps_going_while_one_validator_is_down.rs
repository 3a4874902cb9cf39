//! One validator of four stops: the other three (more than 2/3 of the power)
//! keep committing blocks and transactions; the stopped one restarts, catches
//! up and holds the same state and app hashes as the others.

use std::time::Duration;

use copro_integration::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_four_keeps_going_while_one_validator_is_down_and_it_catches_up()
-> anyhow::Result<()> {
    let mut net = TestNet::start(4, 27100).await?;
    let alice = net.wallet("alice")?;
    let carol = net.wallet("carol")?;
    let c0 = net.client(0);

    net.net.stop_node(3)?;
    let h0 = height(&c0).await?;
    net.net
        .wait_for_height(0, h0 + 3, Duration::from_secs(60))
        .await?;

    let carol_before = balance(&c0, &carol.address).await?;
    let (account_number, sequence) = account_numbers(&c0, &alice.address).await?;
    let tx = SendTx::new(
        &alice,
        &carol.address,
        777,
        net.chain_id(),
        account_number,
        sequence,
    )
    .sign()?;
    let included = wait_included(&c0, broadcast_ok(&c0, tx).await?).await?;
    assert_eq!(included.code, 0, "{}", included.log);

    net.net.start_node(3)?;
    let target = height(&c0).await?;
    net.net
        .wait_for_height(3, target, Duration::from_secs(90))
        .await?;
    let c3 = net.client(3);
    assert_eq!(
        balance(&c3, &carol.address).await?,
        carol_before + 777,
        "the restarted node has the send"
    );
    assert_same_app_hashes(&net, 1, target).await?;

    // And it takes part again: the chain keeps growing with all four.
    net.net
        .wait_for_height(3, target + 3, Duration::from_secs(60))
        .await?;
    net.passed();
    Ok(())
}

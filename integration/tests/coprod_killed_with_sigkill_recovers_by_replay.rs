//! `kill -9` of a validator's coprod at different moments of the block cycle,
//! while transactions flow: after a restart CometBFT's handshake replays what
//! the app had not committed, and the node rejoins with the same app hash.

use std::time::Duration;

use copro_integration::*;
use copro_localnet::Proc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coprod_killed_with_sigkill_recovers_by_replay_with_the_same_app_hash() -> anyhow::Result<()>
{
    let mut net = TestNet::start(4, 27200).await?;
    let alice = net.wallet("alice")?;
    let dave = net.wallet("dave")?;
    let c0 = net.client(0);
    let dave_before = balance(&c0, &dave.address).await?;
    let (account_number, mut sequence) = account_numbers(&c0, &alice.address).await?;

    let rounds = 3u64;
    for round in 0..rounds {
        let tx = SendTx {
            memo: format!("round {round}"),
            ..SendTx::new(
                &alice,
                &dave.address,
                1,
                net.chain_id(),
                account_number,
                sequence,
            )
        }
        .sign()?;
        let hash = broadcast_ok(&c0, tx).await?;
        sequence += 1;
        // A different moment of the ~300 ms block cycle each round.
        tokio::time::sleep(Duration::from_millis(70 + 110 * round)).await;
        net.net.kill(2, Proc::Coprod)?;
        // CometBFT stops once its app connection is gone; make sure it is down.
        net.net.stop(2, Proc::Cometbft)?;
        wait_included(&c0, hash).await?;
        net.net.start_node(2)?;
        let target = height(&c0).await?;
        net.net
            .wait_for_height(2, target, Duration::from_secs(90))
            .await?;
    }

    let target = height(&c0).await?;
    net.net
        .wait_for_height(2, target, Duration::from_secs(60))
        .await?;
    assert_eq!(
        balance(&net.client(2), &dave.address).await?,
        dave_before + u128::from(rounds)
    );
    assert_same_app_hashes(&net, 1, target).await?;
    net.passed();
    Ok(())
}

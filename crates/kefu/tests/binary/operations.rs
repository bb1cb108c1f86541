//! Operations with the real binary (issue 23): a backup taken while tickets
//! pour in restores every ticket acknowledged before it began, with intact
//! chains; SIGTERM lets requests in flight finish, releases the job leases
//! and exits cleanly; `/readyz` says when a node takes traffic.

use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common;

use common::{Target, login};

fn body(i: usize) -> Value {
    json!({
        "channel": "phone", "type": "fault", "title": format!("宽带故障 {i}"),
        "description": "客户反映宽带无法上网，光猫 LOS 灯闪红",
        "customer": {"name": "王五", "phone": format!("139{:08}", i % 500)},
    })
}

/// Writers that create tickets until told to stop, noting each ticket
/// number answered 201 and when.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(String, Instant)>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(base: &str, token: &str, writers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let client = common::client();
        let tasks = (0..writers)
            .map(|w| {
                let (client, base, token) = (client.clone(), base.to_string(), token.to_string());
                let (stop, acked) = (stop.clone(), acked.clone());
                tokio::spawn(async move {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let r = client
                            .post(format!("{base}/api/v1/tickets"))
                            .bearer_auth(&token)
                            .json(&body(w * 100_000 + i))
                            .send()
                            .await;
                        let Ok(resp) = r else { return };
                        assert!(!resp.status().is_server_error(), "a request failed: {}", resp.status());
                        if resp.status() != 201 {
                            continue;
                        }
                        let Ok(v) = resp.json::<Value>().await else { return };
                        acked.lock().unwrap().push((v["number"].as_str().unwrap().to_string(), Instant::now()));
                    }
                })
            })
            .collect();
        Load { stop, acked, tasks }
    }

    fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    async fn finish(self) -> Vec<(String, Instant)> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.expect("a writer panicked");
        }
        self.acked.lock().unwrap().clone()
    }
}

async fn wait_for(load: &Load, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while load.count() < n {
        assert!(Instant::now() < deadline, "only {} tickets in two minutes", load.count());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sigterm(server: &tokio::process::Child) {
    let pid = server.id().expect("still running").to_string();
    let ok = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success();
    assert!(ok, "kill -TERM {pid}");
}

async fn exits_cleanly(server: &mut tokio::process::Child) {
    let status =
        tokio::time::timeout(Duration::from_secs(60), server.wait()).await.expect("stopped within a minute").unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_every_acknowledged_ticket() {
    let target = Target::sqlite().await;
    let (mut server, base) = target.start().await;
    let client = common::client();
    let token = login(&client, &base).await;
    let load = Load::start(&base, &token, 8);
    wait_for(&load, 200).await;

    let file = target.dir().join("backup").join("kefu-backup.db");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let began = Instant::now();
    let out = target.kefu().args(["backup", "--out"]).arg(&file).output().await.unwrap();
    let returned = Instant::now();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{printed} {}", String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains("backup written") && printed.contains("key file"), "{printed}");
    // A backup never overwrites, and a running server is never restored over.
    let again = target.kefu().args(["backup", "--out"]).arg(&file).output().await.unwrap();
    assert!(!again.status.success());
    let refused = target.kefu().args(["restore", "--in"]).arg(&file).output().await.unwrap();
    assert!(!refused.status.success(), "restored under a running server");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("running"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // Tickets answered well after the backup returned cannot be in it.
    tokio::time::sleep((returned + Duration::from_millis(2500)).saturating_duration_since(Instant::now())).await;
    let n = load.count();
    wait_for(&load, n + 50).await;
    let acked = load.finish().await;
    let before: Vec<&String> = acked.iter().filter(|(_, at)| *at < began).map(|(n, _)| n).collect();
    let after: Vec<&String> =
        acked.iter().filter(|(_, at)| *at > returned + Duration::from_secs(2)).map(|(n, _)| n).take(50).collect();
    assert!(before.len() >= 200 && !after.is_empty());
    sigterm(&server);
    exits_cleanly(&mut server).await;

    let out = target.kefu().args(["restore", "--in"]).arg(&file).output().await.unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{printed} {}", String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains("restored") && printed.contains("audit chains intact"), "{printed}");
    assert!(printed.contains("kept as"), "the database replaced is kept: {printed}");

    let (mut server, base) = target.start().await;
    let token = login(&client, &base).await;
    for number in &before {
        let r = client.get(format!("{base}/api/v1/tickets/{number}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "ticket {number} was acknowledged before the backup began but is not restored");
    }
    for number in &after {
        let r = client.get(format!("{base}/api/v1/tickets/{number}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 404, "ticket {number} came after the backup yet is in it");
    }
    server.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_and_releases_the_leases() {
    let target = Target::sqlite().await;
    let log = target.dir().join("serve.log");
    let (mut server, base) = target.start_logging("info", std::fs::File::create(&log).unwrap().into()).await;
    let client = common::client();
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
    let token = login(&client, &base).await;
    // The jobs take their leases in their first rounds.
    let leases = || {
        let c = rusqlite::Connection::open(target.sqlite_file()).unwrap();
        c.query_row("SELECT COUNT(*) FROM job_leases", [], |r| r.get::<_, i64>(0)).unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while leases() == 0 {
        assert!(Instant::now() < deadline, "no job took a lease");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let load = Load::start(&base, &token, 16);
    wait_for(&load, 100).await;
    sigterm(&server);
    // Writers see answers, then refused connections: never a 5xx (asserted
    // in the writers), never a lost acknowledged ticket.
    exits_cleanly(&mut server).await;
    let acked = load.finish().await;
    assert_eq!(leases(), 0, "the stopped node still holds job leases");
    let text = std::fs::read_to_string(&log).unwrap();
    for line in ["shutting down", "job leases released", "search index flushed", "stopped"] {
        assert!(text.contains(line), "no '{line}' in the log:\n{text}");
    }

    let (mut server, base) = target.start().await;
    let token = login(&client, &base).await;
    for (number, _) in &acked {
        let r = client.get(format!("{base}/api/v1/tickets/{number}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "ticket {number} was acknowledged but is gone");
    }
    server.kill().await.unwrap();
}

//! A TCP proxy that can cut or stall what passes: a database or a service "goes away"
//! for the process behind it.

use std::net::SocketAddr;

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// What a [`TcpProxy`] does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyState {
    /// Forwards both ways.
    Up,
    /// Holds every connection open and forwards nothing, as a network that drops
    /// packets does: nothing fails, nothing arrives.
    Stalled,
    /// Closes every connection, and new ones at once: the target "goes away".
    Down,
}

/// A TCP proxy to `target` that can be cut, stalled and restored.
pub struct TcpProxy {
    /// Where to connect instead of `target` (a loopback port the system chose).
    pub addr: SocketAddr,
    state: watch::Sender<ProxyState>,
    task: JoinHandle<()>,
}

/// Copies `from` to `to` while the proxy is up; waits while it is stalled.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut state: watch::Receiver<ProxyState>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        match state.wait_for(|s| *s != ProxyState::Stalled).await.map(|s| *s) {
            Ok(ProxyState::Up) => {}
            _ => return,
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl TcpProxy {
    /// Listens on a fresh loopback port, forwarding to `target`, [`ProxyState::Up`]; a
    /// connection `target` refuses is closed.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (state, state_rx) = watch::channel(ProxyState::Up);
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                if *state_rx.borrow() == ProxyState::Down {
                    drop(inbound);
                    continue;
                }
                let mut down = state_rx.clone();
                let state_rx = state_rx.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    tokio::select! {
                        _ = pump(in_read, out_write, state_rx.clone()) => {}
                        _ = pump(out_read, in_write, state_rx) => {}
                        _ = down.wait_for(|s| *s == ProxyState::Down) => {}
                    }
                });
            }
        });
        Self { addr, state, task }
    }

    /// `true`: up; `false`: down (connections closed, new ones refused).
    pub fn set_up(&self, up: bool) {
        self.set(if up { ProxyState::Up } else { ProxyState::Down });
    }

    /// Switches to `state` at once, for open connections and new ones alike.
    pub fn set(&self, state: ProxyState) {
        let _ = self.state.send(state);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

//! UDP over loopback: addressed and connected sends, peeking, truncation,
//! a thousand request/response round trips, a sender and a receiver
//! sharing a socket, and conversion to and from the standard library.
//!
//! UDP may drop datagrams when a receiver falls behind, so every test here
//! keeps at most one datagram in flight per socket (each waits for the
//! previous one's reply) and asserts only what loopback then guarantees.

mod common;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use common::*;
use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::{UdpSocket, UnixStream};

const LOCALHOST: &str = "127.0.0.1:0";

async fn bound() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind(LOCALHOST).await.unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

#[test]
fn send_to_and_recv_from_round_trip() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (a, a_addr) = bound().await;
            let (b, b_addr) = bound().await;
            assert_eq!(a.send_to(b"ping", b_addr).await.unwrap(), 4);
            let mut buf = [0; 16];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"ping"[..], a_addr));
            assert_eq!(b.send_to(b"pong!", from).await.unwrap(), 5);
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"pong!"[..], b_addr));
            // An empty datagram is a datagram too.
            assert_eq!(a.send_to(b"", b_addr).await.unwrap(), 0);
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (0, a_addr));
        });
    });
}

/// `send` goes to the connected address; `recv` takes datagrams from it
/// only (the kernel drops those from anyone else).
#[test]
fn connected_sockets_send_and_recv() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (a, a_addr) = bound().await;
            let (b, b_addr) = bound().await;
            let (stranger, _) = bound().await;
            a.connect(b_addr).await.unwrap();
            b.connect(a_addr).await.unwrap();
            assert_eq!(a.peer_addr().unwrap(), b_addr);
            assert_eq!(b.peer_addr().unwrap(), a_addr);

            // Sent first, but from an address `b` is not connected to.
            stranger.send_to(b"from a stranger", b_addr).await.unwrap();
            a.send(b"from a").await.unwrap();
            let mut buf = [0; 32];
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"from a");
            b.send(b"from b").await.unwrap();
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"from b");
        });
    });
}

#[test]
fn send_on_an_unconnected_socket_fails() {
    weft::block_on(async {
        let (a, _) = bound().await;
        let error = a.send(b"nowhere").await.unwrap_err();
        // Linux: EDESTADDRREQ.
        assert_eq!(error.raw_os_error(), Some(libc::EDESTADDRREQ), "{error}");
        assert_eq!(
            a.peer_addr().unwrap_err().kind(),
            io::ErrorKind::NotConnected
        );
    });
}

#[test]
fn peek_from_leaves_the_datagram_queued() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (a, a_addr) = bound().await;
            let (b, b_addr) = bound().await;
            a.send_to(b"first", b_addr).await.unwrap();
            let mut buf = [0; 16];
            for _ in 0..2 {
                let (n, from) = b.peek_from(&mut buf).await.unwrap();
                assert_eq!((&buf[..n], from), (&b"first"[..], a_addr));
            }
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"first"[..], a_addr));
            // The next peek waits for the next datagram.
            a.send_to(b"second", b_addr).await.unwrap();
            let (n, _) = b.peek_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"second");
        });
    });
}

/// A datagram longer than the buffer fills it; the rest is lost, and the
/// next receive gets the next datagram.
#[test]
fn a_datagram_longer_than_the_buffer_is_truncated() {
    weft::block_on(async {
        let (a, _) = bound().await;
        let (b, b_addr) = bound().await;
        a.send_to(&pattern(7, 100), b_addr).await.unwrap();
        a.send_to(b"next", b_addr).await.unwrap();
        let mut small = [0; 10];
        let (n, _) = b.recv_from(&mut small).await.unwrap();
        assert_eq!(n, 10);
        assert_eq!(&small[..], &pattern(7, 100)[..10]);
        let (n, _) = b.recv_from(&mut small).await.unwrap();
        assert_eq!(&small[..n], b"next");
    });
}

/// A thousand datagrams of sizes 1 to 1000 bytes, each echoed by a server
/// task before the next is sent; every echo is checked.
#[test]
fn a_thousand_request_response_round_trips() {
    const ROUNDS: usize = 1000;
    for_each_workers(|rt| {
        let echoed = rt.block_on(async {
            let (server, server_addr) = bound().await;
            let echo = weft::spawn(async move {
                let mut buf = vec![0; 2048];
                for _ in 0..ROUNDS {
                    let (n, from) = server.recv_from(&mut buf).await?;
                    server.send_to(&buf[..n], from).await?;
                }
                io::Result::Ok(ROUNDS)
            });
            let (client, _) = bound().await;
            client.connect(server_addr).await.unwrap();
            let mut reply = vec![0; 2048];
            for round in 0..ROUNDS {
                let request = pattern(round as u64, round + 1);
                client.send(&request).await.unwrap();
                let n = client.recv(&mut reply).await.unwrap();
                assert_same_bytes(&reply[..n], &request);
            }
            echo.await.unwrap().unwrap()
        });
        assert_eq!(echoed, ROUNDS);
    });
}

/// One task sends while another receives on the same socket (its methods
/// take `&self`).
#[test]
fn a_sender_task_and_a_receiver_task_share_a_socket() {
    const ROUNDS: u32 = 100;
    for_each_workers(|rt| {
        rt.block_on(async {
            let (socket, _) = bound().await;
            let (peer, peer_addr) = bound().await;
            socket.connect(peer_addr).await.unwrap();
            let socket = Arc::new(socket);
            // The receiver tells the sender each echo arrived through a
            // stream pair, so one datagram at most is in flight.
            let (mut ack_tx, mut ack_rx) = UnixStream::pair().unwrap();
            let sender = weft::spawn({
                let socket = socket.clone();
                async move {
                    let mut ack = [0; 1];
                    for round in 0..ROUNDS {
                        socket.send(&round.to_le_bytes()).await?;
                        ack_rx.read_exact(&mut ack).await?;
                    }
                    io::Result::Ok(())
                }
            });
            let receiver = weft::spawn({
                let socket = socket.clone();
                async move {
                    let mut got = Vec::new();
                    let mut buf = [0; 4];
                    for _ in 0..ROUNDS {
                        let n = socket.recv(&mut buf).await?;
                        assert_eq!(n, 4);
                        got.push(u32::from_le_bytes(buf));
                        ack_tx.write_all(b"+").await?;
                    }
                    io::Result::Ok(got)
                }
            });
            let mut buf = [0; 4];
            for _ in 0..ROUNDS {
                let (n, from) = peer.recv_from(&mut buf).await.unwrap();
                peer.send_to(&buf[..n], from).await.unwrap();
            }
            sender.await.unwrap().unwrap();
            let got = receiver.await.unwrap().unwrap();
            assert_eq!(got, (0..ROUNDS).collect::<Vec<_>>());
        });
    });
}

#[test]
fn std_sockets_convert_to_weft_and_back() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let std_socket = std::net::UdpSocket::bind(LOCALHOST).unwrap();
            let addr = std_socket.local_addr().unwrap();
            let socket = UdpSocket::from_std(std_socket).unwrap();
            assert_eq!(socket.local_addr().unwrap(), addr);
            let (peer, peer_addr) = bound().await;
            peer.send_to(b"to weft", addr).await.unwrap();
            let mut buf = [0; 16];
            let (n, from) = socket.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"to weft"[..], peer_addr));

            let std_socket = socket.into_std().unwrap();
            // Still non-blocking: nothing queued, so no blocking receive.
            let error = std_socket.recv_from(&mut buf).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
            std_socket.send_to(b"from std", peer_addr).unwrap();
            let (n, from) = peer.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"from std"[..], addr));

            let socket = UdpSocket::from_std(std_socket).unwrap();
            peer.send_to(b"again", addr).await.unwrap();
            let (n, _) = socket.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"again");
        });
    });
}

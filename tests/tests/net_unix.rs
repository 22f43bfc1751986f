//! Unix-domain sockets: a listener bound in a temporary directory, stream
//! pairs, half-close, the stream's halves, and datagram sockets, paired
//! and bound to paths.

mod common;

use std::io;
use std::net::Shutdown;

use common::*;
use weft::io::{copy, AsyncReadExt, AsyncWriteExt};
use weft::net::{UnixDatagram, UnixListener, UnixStream};

/// Echoes until end of stream, then closes its writing side.
async fn echo(stream: UnixStream) -> io::Result<u64> {
    let (read, mut write) = stream.split();
    let echoed = copy(read, &mut write).await?;
    write.close().await?;
    Ok(echoed)
}

#[test]
fn a_listener_in_a_temporary_directory_echoes() {
    const LEN: usize = 256 * 1024;
    for_each_workers(|rt| {
        let dir = TempDir::new("unix-echo");
        let path = dir.join("echo.sock");
        let sent = pattern(rt.workers as u64, LEN);
        let (received, echoed) = rt.block_on(async {
            let listener = UnixListener::bind(&path).unwrap();
            assert_eq!(
                listener.local_addr().unwrap().as_pathname(),
                Some(path.as_path())
            );
            let server = weft::spawn(async move {
                let (stream, peer) = listener.accept().await?;
                // The client did not bind: its address has no path.
                assert!(peer.is_unnamed());
                echo(stream).await
            });
            let client = UnixStream::connect(&path).await.unwrap();
            assert_eq!(
                client.peer_addr().unwrap().as_pathname(),
                Some(path.as_path())
            );
            let (mut read, mut write) = client.split();
            let writing = async {
                write.write_all(&sent).await?;
                write.close().await
            };
            let reading = async {
                let mut received = Vec::new();
                read.read_to_end(&mut received).await.map(|_| received)
            };
            let (written, received) = weft::join!(writing, reading);
            written.unwrap();
            (received.unwrap(), server.await.unwrap().unwrap())
        });
        assert_eq!(echoed, LEN as u64);
        assert_same_bytes(&received, &sent);
    });
}

#[test]
fn connecting_to_a_missing_or_dead_socket_fails() {
    let dir = TempDir::new("unix-connect");
    weft::block_on(async {
        let error = UnixStream::connect(dir.join("missing.sock"))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
        // The socket file outlives its listener: nobody accepts any more.
        let path = dir.join("dead.sock");
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let error = UnixStream::connect(&path).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
        // And the path cannot be bound again while the file is there.
        let error = UnixListener::bind(&path).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
    });
}

#[test]
fn a_stream_pair_echoes_through_a_task() {
    for_each_workers(|rt| {
        let replies = rt.block_on(async {
            let (mut client, server) = UnixStream::pair().unwrap();
            let server = weft::spawn(echo(server));
            let mut replies = Vec::new();
            for i in 0..100u32 {
                let message = i.to_le_bytes();
                client.write_all(&message).await.unwrap();
                let mut reply = [0; 4];
                client.read_exact(&mut reply).await.unwrap();
                replies.push(u32::from_le_bytes(reply));
            }
            client.close().await.unwrap();
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
            assert_eq!(server.await.unwrap().unwrap(), 400);
            replies
        });
        assert_eq!(replies, (0..100).collect::<Vec<_>>());
    });
}

#[test]
fn half_close_lets_the_peer_answer_after_end_of_stream() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (mut client, mut server) = UnixStream::pair().unwrap();
            let server = weft::spawn(async move {
                let mut request = Vec::new();
                server.read_to_end(&mut request).await?;
                // End of stream again, however often it is asked.
                let mut buf = [0; 8];
                assert_eq!(server.read(&mut buf).await?, 0);
                assert_eq!(server.read(&mut buf).await?, 0);
                server.write_all(b"reply to ").await?;
                server.write_all(&request).await?;
                server.shutdown(Shutdown::Write)?;
                io::Result::Ok(())
            });
            client.write_all(b"the request").await.unwrap();
            client.close().await.unwrap();
            let error = client.write(b"more").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");
            let mut reply = Vec::new();
            client.read_to_end(&mut reply).await.unwrap();
            assert_eq!(reply, b"reply to the request");
            server.await.unwrap().unwrap();
        });
    });
}

#[test]
fn owned_halves_of_a_unix_stream_reunite() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let (mut read, mut write) = a.into_split();
            let reader = weft::spawn(async move {
                let mut got = [0; 2];
                read.read_exact(&mut got).await.map(|_| (read, got))
            });
            write.write_all(b"hi").await.unwrap();
            let mut got = [0; 2];
            b.read_exact(&mut got).await.unwrap();
            b.write_all(b"ho").await.unwrap();
            let (read, got) = reader.await.unwrap().unwrap();
            assert_eq!(&got, b"ho");
            let mut a = write.reunite(read).unwrap();
            a.write_all(b"whole").await.unwrap();
            let mut got = [0; 5];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"whole");
        });
    });
}

#[test]
fn a_datagram_pair_keeps_message_boundaries() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let messages: [&[u8]; 3] = [b"one", b"", b"three"];
            for message in messages {
                assert_eq!(a.send(message).await.unwrap(), message.len());
            }
            let mut buf = [0; 16];
            for message in messages {
                let n = b.recv(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], message);
            }
            b.send(b"back").await.unwrap();
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"back");
        });
    });
}

#[test]
fn bound_datagram_sockets_send_to_and_recv_from_paths() {
    for_each_workers(|rt| {
        let dir = TempDir::new("unix-dgram");
        let (a_path, b_path) = (dir.join("a.sock"), dir.join("b.sock"));
        rt.block_on(async {
            let a = UnixDatagram::bind(&a_path).unwrap();
            let b = UnixDatagram::bind(&b_path).unwrap();
            assert_eq!(a.send_to(b"to b", &b_path).await.unwrap(), 4);
            let mut buf = [0; 16];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"to b");
            assert_eq!(from.as_pathname(), Some(a_path.as_path()));
            b.send_to(b"to a", from.as_pathname().unwrap())
                .await
                .unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"to a");
            assert_eq!(from.as_pathname(), Some(b_path.as_path()));

            // An unbound sender has no address to answer to.
            let unbound = UnixDatagram::unbound().unwrap();
            unbound.send_to(b"anonymous", &a_path).await.unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"anonymous");
            assert!(from.is_unnamed());

            // Connected to a path, `send` needs no address.
            unbound.connect(&b_path).unwrap();
            unbound.send(b"connected").await.unwrap();
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"connected");

            // Sending to a path where nothing is bound fails at once.
            let error = a
                .send_to(b"lost", dir.join("nobody.sock"))
                .await
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
        });
    });
}

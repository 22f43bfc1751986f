//! TCP over loopback: bulk echo, many connections at once, half-close and
//! end of stream, refused and reset connections, the stream's halves,
//! peeking, socket options and addresses, conversion to and from the
//! standard library, vectored I/O, runtimes that share a connection, the
//! global runtime, and timeouts around reads.

mod common;

use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use weft::io::{copy, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream};

const LOCALHOST: &str = "127.0.0.1:0";

/// A listener on a free loopback port, and its address.
async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind(LOCALHOST).await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// A connected pair on the current runtime: (client, server side).
async fn connected() -> (TcpStream, TcpStream) {
    let (listener, addr) = listener().await;
    let client = TcpStream::connect(addr).await.unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (client, server)
}

/// Echoes everything `stream` reads until end of stream, then closes its
/// writing side; returns the number of bytes echoed.
async fn echo(stream: TcpStream) -> io::Result<u64> {
    let (read, mut write) = stream.split();
    let echoed = copy(read, &mut write).await?;
    write.close().await?;
    Ok(echoed)
}

#[test]
fn echoes_a_mebibyte_written_while_the_echo_is_read() {
    const LEN: usize = 1 << 20;
    for_each_workers(|rt| {
        let sent = pattern(rt.workers as u64, LEN);
        let (received, echoed) = rt.block_on(async {
            let (listener, addr) = listener().await;
            let server = weft::spawn(async move {
                let (stream, _) = listener.accept().await?;
                echo(stream).await
            });
            let client = TcpStream::connect(addr).await.unwrap();
            let (mut read, mut write) = client.split();
            // Both directions at once: the echo of the first bytes comes
            // back while the last ones are still being written, so neither
            // side's buffers have to hold the whole mebibyte.
            let writing = async {
                write.write_all(&sent).await?;
                write.close().await
            };
            let reading = async {
                let mut received = Vec::with_capacity(LEN);
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

/// 500 connections at once, each sending 100 numbered messages one at a
/// time and checking every echo. The process holds over 1000 sockets, more
/// than the usual soft limit of 1024 descriptors allows next to the other
/// tests of this binary, so the test raises the soft limit to the hard one.
#[test]
fn five_hundred_connections_each_echo_a_hundred_messages() {
    const CONNECTIONS: usize = 500;
    const MESSAGES: usize = 100;
    const SIZE: usize = 64;

    /// The message `seq` of connection `id`: both numbers, then a pattern
    /// that depends on both.
    fn message(id: usize, seq: usize) -> [u8; SIZE] {
        let mut message = [0; SIZE];
        message[..4].copy_from_slice(&(id as u32).to_le_bytes());
        message[4..8].copy_from_slice(&(seq as u32).to_le_bytes());
        let fill = pattern(((id as u64) << 32) | seq as u64, SIZE - 8);
        message[8..].copy_from_slice(&fill);
        message
    }

    async fn client(addr: SocketAddr, id: usize) -> io::Result<usize> {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut reply = [0; SIZE];
        for seq in 0..MESSAGES {
            let sent = message(id, seq);
            stream.write_all(&sent).await?;
            stream.read_exact(&mut reply).await?;
            assert_eq!(reply, sent, "connection {id}, message {seq}");
        }
        stream.close().await?;
        // The server closes after echoing everything: nothing more comes.
        assert_eq!(stream.read(&mut reply).await?, 0);
        Ok(MESSAGES)
    }

    let limit = raise_fd_limit();
    assert!(
        limit >= 2 * CONNECTIONS as libc::rlim_t + 256,
        "the hard limit on open descriptors ({limit}) is too low for this test"
    );
    for_each_workers(|rt| {
        let (replies, echoed) = rt.block_on(async {
            let (listener, addr) = listener().await;
            let server = weft::spawn(async move {
                let mut connections = Vec::with_capacity(CONNECTIONS);
                for _ in 0..CONNECTIONS {
                    let (stream, _) = listener.accept().await?;
                    stream.set_nodelay(true)?;
                    connections.push(weft::spawn(echo(stream)));
                }
                let mut echoed = Vec::with_capacity(CONNECTIONS);
                for connection in connections {
                    echoed.push(connection.await.unwrap()?);
                }
                io::Result::Ok(echoed)
            });
            let clients: Vec<_> = (0..CONNECTIONS)
                .map(|id| weft::spawn(client(addr, id)))
                .collect();
            let mut replies = 0;
            for client in clients {
                replies += client.await.unwrap().unwrap();
            }
            (replies, server.await.unwrap().unwrap())
        });
        assert_eq!(replies, CONNECTIONS * MESSAGES);
        assert_eq!(echoed, vec![(MESSAGES * SIZE) as u64; CONNECTIONS]);
    });
}

/// The client shuts its writing side; the server reads the request to the
/// end, and only then answers on the still open other direction.
#[test]
fn half_close_lets_the_peer_answer_after_end_of_stream() {
    for_each_workers(|rt| {
        let (request, reply) = rt.block_on(async {
            let (listener, addr) = listener().await;
            let server = weft::spawn(async move {
                let (mut stream, _) = listener.accept().await?;
                let mut request = Vec::new();
                stream.read_to_end(&mut request).await?;
                stream.write_all(b"reply to ").await?;
                stream.write_all(&request).await?;
                stream.close().await?;
                io::Result::Ok(request)
            });
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(b"the request").await.unwrap();
            client.close().await.unwrap();
            // Writing after the close is refused by the kernel.
            let error = client.write(b"more").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");
            let mut reply = Vec::new();
            client.read_to_end(&mut reply).await.unwrap();
            (server.await.unwrap().unwrap(), reply)
        });
        assert_eq!(request, b"the request");
        assert_eq!(reply, b"reply to the request");
    });
}

#[test]
fn reads_at_end_of_stream_return_zero_every_time() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (mut client, mut server) = connected().await;
            server.write_all(b"last words").await.unwrap();
            drop(server);
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"last words");
            let mut buf = [0; 16];
            for _ in 0..3 {
                assert_eq!(client.read(&mut buf).await.unwrap(), 0);
            }
            // The same through a vectored read and through `&TcpStream`.
            let (mut a, mut b) = ([0; 4], [0; 4]);
            let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
            assert_eq!(client.read_vectored(&mut bufs).await.unwrap(), 0);
            assert_eq!((&client).read(&mut buf).await.unwrap(), 0);
        });
    });
}

/// A loopback port that is bound but not listening, held until the
/// returned descriptor closes: a connection to it is refused, and no test
/// running alongside can take the port meanwhile (as it could if a
/// listener were bound and dropped to find a free port).
fn bound_port_without_a_listener() -> (OwnedFd, SocketAddr) {
    // SAFETY: plain socket(2) call; the result is checked below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: `fd` is a descriptor we just opened and own alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_in and `len` its size.
    let bound = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast::<libc::sockaddr>(),
            len,
        )
    };
    assert_eq!(bound, 0, "bind: {}", io::Error::last_os_error());
    // SAFETY: `addr` has room for a sockaddr_in and `len` says so.
    let named = unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            (&raw mut addr).cast::<libc::sockaddr>(),
            &mut len,
        )
    };
    assert_eq!(named, 0, "getsockname: {}", io::Error::last_os_error());
    let port = u16::from_be(addr.sin_port);
    (fd, SocketAddr::from(([127, 0, 0, 1], port)))
}

#[test]
fn connecting_to_a_port_without_a_listener_is_refused() {
    let (_held, addr) = bound_port_without_a_listener();
    for_each_workers(|rt| {
        let error = rt.block_on(TcpStream::connect(addr)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
    });
}

/// Makes closing `stream` send a reset instead of the orderly FIN.
fn reset_on_close(stream: &std::net::TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open (borrowed from `stream`) and `linger`
    // is a valid `struct linger` of the size passed.
    let set = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast::<libc::c_void>(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        set,
        0,
        "setsockopt(SO_LINGER): {}",
        io::Error::last_os_error()
    );
}

/// A weft stream whose peer (a standard-library socket) has reset the
/// connection; returns once the reset has arrived (the stream turned
/// readable, which nothing else makes it: the peer sent no data).
async fn reset_by_peer() -> TcpStream {
    let (listener, addr) = listener().await;
    let peer = std::net::TcpStream::connect(addr).unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    reset_on_close(&peer);
    drop(peer);
    stream.readable().await.unwrap();
    stream
}

/// After a reset, what Linux reports: the first operation (a read here)
/// fails with `ECONNRESET`, which it consumes; reads then see end of
/// stream and writes `EPIPE`. Errors, not panics, and no hang.
#[test]
fn a_reset_fails_the_first_read_then_reads_end_and_writes_break() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let mut stream = reset_by_peer().await;
            let mut buf = [0; 16];
            let error = stream.read(&mut buf).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error}");
            assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
            assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
            let error = stream.write(b"too late").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");
        });
    });
}

/// As above with a write first: the write reports the reset.
#[test]
fn a_reset_fails_the_first_write_then_writes_break_and_reads_end() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let mut stream = reset_by_peer().await;
            let error = stream.write(b"too late").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error}");
            let error = stream.write(b"still too late").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");
            let mut buf = [0; 16];
            assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
        });
    });
}

/// A peer resets the connection while a write is blocked on a full send
/// buffer, and while a read waits on the same stream (split halves): both
/// wake with an error or end of stream, none hangs, every byte the peer
/// read is the writer's in order, and the runtime serves a new connection
/// afterwards. The reset is sent only once the writer has seen `Pending`
/// (the buffers are full), so it lands mid-write on every run.
#[test]
fn a_peer_reset_mid_write_fails_the_blocked_write_and_wakes_the_reader() {
    // Far more than loopback's send and receive buffers hold together
    // (about 10 MiB at most with Linux's default autotuning limits).
    const TOTAL: usize = 32 << 20;
    const PEER_READS: usize = 1 << 20;
    let data = pattern(7, PEER_READS).repeat(TOTAL / PEER_READS);
    for_each_workers(|rt| {
        rt.block_on(async {
            let (listener, addr) = listener().await;
            let blocked = Latch::new();
            let peer = {
                let (blocked, want) = (blocked.clone(), data[..PEER_READS].to_vec());
                std::thread::spawn(move || {
                    use std::io::Read;
                    let mut peer = std::net::TcpStream::connect(addr).unwrap();
                    let mut got = vec![0; PEER_READS];
                    peer.read_exact(&mut got).unwrap();
                    assert_same_bytes(&got, &want);
                    blocked.wait();
                    reset_on_close(&peer);
                })
            };
            let (stream, _) = listener.accept().await.unwrap();
            let (mut read, mut write) = TcpStream::split(&stream);
            let writing = async {
                let mut written = 0;
                let mut pending_seen = false;
                loop {
                    let step = poll_fn(|cx| {
                        let poll = Pin::new(&mut write).poll_write(cx, &data[written..]);
                        if poll.is_pending() && !pending_seen {
                            pending_seen = true;
                            blocked.open();
                        }
                        poll
                    })
                    .await;
                    match step {
                        Ok(n) => written += n,
                        Err(error) => return (written, error),
                    }
                    assert!(written < TOTAL, "all {TOTAL} bytes went through");
                }
            };
            let reading = async {
                let mut buf = [0; 64];
                read.read(&mut buf).await
            };
            let ((written, error), read_result) = weft::join!(writing, reading);
            assert!(
                matches!(
                    error.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                ),
                "{error}"
            );
            assert!(written >= PEER_READS, "wrote {written} bytes");
            match read_result {
                Err(error) => assert_eq!(error.kind(), io::ErrorKind::ConnectionReset),
                Ok(n) => assert_eq!(n, 0, "the peer sent no data"),
            }
            peer.join().unwrap();
            drop(stream);

            // The runtime serves on: a fresh connection echoes.
            let server = weft::spawn(async move {
                let (stream, _) = listener.accept().await?;
                echo(stream).await
            });
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(b"still serving").await.unwrap();
            client.close().await.unwrap();
            let mut back = Vec::new();
            client.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, b"still serving");
            assert_eq!(server.await.unwrap().unwrap(), 13);
        });
    });
}

/// Borrowed halves inside one task: a `join!` reads echoes while it writes.
#[test]
fn split_halves_read_and_write_at_once() {
    const MESSAGES: usize = 200;
    for_each_workers(|rt| {
        let received = rt.block_on(async {
            let (listener, addr) = listener().await;
            let server = weft::spawn(async move {
                let (stream, _) = listener.accept().await?;
                echo(stream).await
            });
            let client = TcpStream::connect(addr).await.unwrap();
            let (mut read, mut write) = client.split();
            let writing = async {
                for i in 0..MESSAGES {
                    write.write_all(format!("{i:05}").as_bytes()).await?;
                }
                write.close().await
            };
            let reading = async {
                let mut received = String::new();
                read.read_to_string(&mut received).await.map(|_| received)
            };
            let (written, received) = weft::join!(writing, reading);
            written.unwrap();
            assert_eq!(server.await.unwrap().unwrap(), 5 * MESSAGES as u64);
            received.unwrap()
        });
        let expected: String = (0..MESSAGES).map(|i| format!("{i:05}")).collect();
        assert_eq!(received, expected);
    });
}

/// A reader task and a writer share one stream through `&TcpStream`.
#[test]
fn a_reader_task_and_a_writer_share_a_stream() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (client, mut server) = connected().await;
            let client = Arc::new(client);
            let reader = weft::spawn({
                let client = client.clone();
                async move {
                    let mut got = [0; 5];
                    (&*client).read_exact(&mut got).await.map(|_| got)
                }
            });
            (&*client).write_all(b"hello").await.unwrap();
            let mut got = [0; 5];
            server.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"hello");
            server.write_all(b"world").await.unwrap();
            assert_eq!(&reader.await.unwrap().unwrap(), b"world");
        });
    });
}

/// Owned halves move to different tasks, then come back together; the
/// reunited stream still works, in both directions.
#[test]
fn owned_halves_work_in_separate_tasks_and_reunite() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (client, mut server) = connected().await;
            let (mut read, mut write) = client.into_split();
            let reader = weft::spawn(async move {
                let mut got = [0; 4];
                read.read_exact(&mut got).await.unwrap();
                (read, got)
            });
            let writer = weft::spawn(async move {
                write.write_all(b"ping").await.unwrap();
                write
            });
            let mut got = [0; 4];
            server.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"ping");
            server.write_all(b"pong").await.unwrap();
            let (read, mut got) = reader.await.unwrap();
            assert_eq!(&got, b"pong");
            let write = writer.await.unwrap();

            // Reuniting drops the writing half without shutting it down.
            let mut client = read.reunite(write).unwrap();
            client.write_all(b"again").await.unwrap();
            client.close().await.unwrap();
            let mut rest = Vec::new();
            server.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest, b"again");
            server.write_all(b"back").await.unwrap();
            client.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"back");
        });
    });
}

#[test]
fn reuniting_halves_of_different_streams_fails_and_gives_them_back() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (a, mut a_peer) = connected().await;
            let (b, mut b_peer) = connected().await;
            let (a_read, a_write) = a.into_split();
            let (b_read, b_write) = b.into_split();
            let weft::net::ReuniteError(mut a_read, mut b_write) =
                a_read.reunite(b_write).unwrap_err();
            // Both halves still work, each on its own stream.
            b_write.write_all(b"to b").await.unwrap();
            let mut got = [0; 4];
            b_peer.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"to b");
            a_peer.write_all(b"to a").await.unwrap();
            a_read.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"to a");
            // The right pairs reunite.
            assert!(a_read.reunite(a_write).is_ok());
            assert!(b_write.reunite(b_read).is_ok());
        });
    });
}

/// Dropping an owned writing half (not reunited) shuts the writing side
/// down: the peer reads end of stream, and the reading half still reads.
#[test]
fn dropping_the_owned_write_half_shuts_the_writing_side_down() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (client, mut server) = connected().await;
            let (mut read, write) = client.into_split();
            drop(write);
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.unwrap();
            assert!(got.is_empty());
            server.write_all(b"still open").await.unwrap();
            let mut got = [0; 10];
            read.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"still open");
        });
    });
}

#[test]
fn peek_returns_what_the_next_read_returns() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (mut client, mut server) = connected().await;
            client.write_all(b"peek-a-boo").await.unwrap();
            let mut peeked = [0; 32];
            let n = server.peek(&mut peeked).await.unwrap();
            assert!((1..=10).contains(&n), "peeked {n} bytes");
            assert_eq!(&peeked[..n], &b"peek-a-boo"[..n]);
            // Peeking again takes nothing either.
            let mut again = [0; 32];
            let m = server.peek(&mut again).await.unwrap();
            assert!(m >= n);
            assert_eq!(&again[..n], &peeked[..n]);
            let mut read = [0; 10];
            server.read_exact(&mut read).await.unwrap();
            assert_eq!(&read, b"peek-a-boo");
            // At end of stream, peek returns 0 too.
            drop(client);
            assert_eq!(server.peek(&mut peeked).await.unwrap(), 0);
        });
    });
}

#[test]
fn nodelay_is_off_by_default_and_can_be_set() {
    weft::block_on(async {
        let (client, server) = connected().await;
        for stream in [&client, &server] {
            assert!(!stream.nodelay().unwrap());
            stream.set_nodelay(true).unwrap();
            assert!(stream.nodelay().unwrap());
            stream.set_nodelay(false).unwrap();
            assert!(!stream.nodelay().unwrap());
        }
    });
}

#[test]
fn each_side_sees_the_other_sides_local_address_as_its_peer() {
    weft::block_on(async {
        let (listener, addr) = listener().await;
        assert_eq!(addr.ip(), std::net::Ipv4Addr::LOCALHOST);
        assert_ne!(addr.port(), 0);
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, peer) = listener.accept().await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        assert_eq!(server.local_addr().unwrap(), addr);
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
        assert_eq!(peer, client.local_addr().unwrap());
        assert_ne!(client.local_addr().unwrap(), addr);
    });
}

/// A listener and streams from the standard library work in weft, and go
/// back (non-blocking, as documented) and forth again, keeping the
/// connection.
#[test]
fn std_sockets_convert_to_weft_and_back() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let std_listener = std::net::TcpListener::bind(LOCALHOST).unwrap();
            let addr = std_listener.local_addr().unwrap();
            let listener = TcpListener::from_std(std_listener).unwrap();
            let std_client = std::net::TcpStream::connect(addr).unwrap();
            let mut client = TcpStream::from_std(std_client).unwrap();
            let (server, _) = listener.accept().await.unwrap();
            client.write_all(b"weft").await.unwrap();

            let mut std_server = server.into_std().unwrap();
            let mut got = [0; 4];
            io::Read::read_exact(&mut std_server, &mut got).unwrap();
            assert_eq!(&got, b"weft");
            // Still non-blocking: no data waiting, so no blocking read.
            let error = io::Read::read(&mut std_server, &mut got).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
            io::Write::write_all(&mut std_server, b"std!").unwrap();
            client.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"std!");

            let mut server = TcpStream::from_std(std_server).unwrap();
            server.write_all(b"back").await.unwrap();
            client.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"back");

            let std_listener = listener.into_std().unwrap();
            assert_eq!(std_listener.local_addr().unwrap(), addr);
            let error = std_listener.accept().unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        });
    });
}

/// `write_vectored` sends several buffers in one call (a `writev`, not
/// just the first buffer), in order; reads into several buffers fill them
/// in order.
#[test]
fn vectored_writes_and_reads_keep_the_order() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (mut client, mut server) = connected().await;
            let parts: [&[u8]; 3] = [b"one,", b"two,", b"three"];
            let bufs = parts.map(IoSlice::new);
            // A new connection's send buffer has room for all 13 bytes.
            assert_eq!(client.write_vectored(&bufs).await.unwrap(), 13);
            let mut got = [0; 13];
            server.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"one,two,three");

            // Large buffers that take many partial writes.
            let big: Vec<Vec<u8>> = (0..4).map(|i| pattern(i, 100_000 + i as usize)).collect();
            let expected = big.concat();
            let writing = async {
                let mut bufs: Vec<IoSlice<'_>> = big.iter().map(|b| IoSlice::new(b)).collect();
                let mut bufs = &mut bufs[..];
                while !bufs.is_empty() {
                    let n = client.write_vectored(bufs).await?;
                    assert!(n > 0, "write_vectored wrote nothing");
                    IoSlice::advance_slices(&mut bufs, n);
                }
                client.close().await
            };
            let reading = async {
                let mut got = Vec::new();
                server.read_to_end(&mut got).await.map(|_| got)
            };
            let (written, got) = weft::join!(writing, reading);
            written.unwrap();
            assert_same_bytes(&got.unwrap(), &expected);

            // And back, read into three buffers until end of stream.
            server.write_all(b"0123456789abcdefghij").await.unwrap();
            server.shutdown(Shutdown::Write).unwrap();
            let (mut a, mut b, mut c) = ([0; 3], [0; 7], [0; 10]);
            let mut bufs = [
                IoSliceMut::new(&mut a),
                IoSliceMut::new(&mut b),
                IoSliceMut::new(&mut c),
            ];
            let mut bufs = &mut bufs[..];
            let mut total = 0;
            while total < 20 {
                // Through `poll_read_vectored`: `read_vectored` ties the
                // slice borrow to the buffers' lifetime, which a loop that
                // advances the slices cannot give it.
                let n = poll_fn(|cx| Pin::new(&mut client).poll_read_vectored(cx, bufs))
                    .await
                    .unwrap();
                assert!(n > 0, "end of stream after {total} bytes");
                total += n;
                IoSliceMut::advance_slices(&mut bufs, n);
            }
            assert_eq!((&a, &b, &c), (b"012", b"3456789", b"abcdefghij"));
        });
    });
}

/// A server on one runtime, a client on another, and a stream accepted on
/// the first used from a task of the second: each reactor serves its own
/// sockets whichever runtime's task waits on them.
#[test]
fn a_server_and_a_client_on_different_runtimes() {
    for workers in WORKERS {
        let server_rt = runtime(workers);
        let client_rt = runtime(workers);
        let (listener, addr) = server_rt.block_on(listener());
        let server = server_rt.spawn(async move {
            let (mut stream, _) = listener.accept().await?;
            let mut request = [0; 7];
            stream.read_exact(&mut request).await?;
            stream.write_all(thread_name().as_bytes()).await?;
            stream.close().await?;
            io::Result::Ok((request, stream))
        });
        let reply = client_rt.block_on(async {
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(b"request").await.unwrap();
            let mut reply = String::new();
            client.read_to_string(&mut reply).await.unwrap();
            reply
        });
        assert_eq!(reply, server_rt.name);
        let (request, server_side) = server_rt.block_on(server).unwrap().unwrap();
        assert_eq!(&request, b"request");

        // A stream registered with the server's runtime, read from a task
        // of the client's runtime.
        let (read_side, mut write_side) = server_rt.block_on(connected());
        let reader = client_rt.spawn(async move {
            let mut got = Vec::new();
            let mut read_side = read_side;
            read_side
                .read_to_end(&mut got)
                .await
                .map(|_| (got, thread_name()))
        });
        server_rt.block_on(async {
            write_side.write_all(b"across runtimes").await.unwrap();
            write_side.close().await.unwrap();
        });
        let (got, name) = client_rt.block_on(reader).unwrap().unwrap();
        assert_eq!(got, b"across runtimes");
        assert_eq!(name, client_rt.name);
        // The server's side of the first connection saw the client close.
        let mut server_side = server_side;
        let mut rest = [0; 1];
        assert_eq!(server_rt.block_on(server_side.read(&mut rest)).unwrap(), 0);
    }
}

/// Outside any runtime, `weft::block_on` and `weft::spawn` use the global
/// runtime, whose reactor serves the sockets created there.
#[test]
fn sockets_work_from_block_on_outside_any_runtime() {
    let (reply, server_thread) = weft::block_on(async {
        let (listener, addr) = listener().await;
        let server = weft::spawn(async move {
            let (stream, _) = listener.accept().await?;
            echo(stream).await?;
            io::Result::Ok(thread_name())
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"via the global runtime").await.unwrap();
        client.close().await.unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        (reply, server.await.unwrap().unwrap())
    });
    assert_eq!(reply, b"via the global runtime");
    assert_eq!(server_thread, "weft-global");
}

/// A read that gets no data times out; the stream is unharmed and the
/// next read gets what comes later.
#[test]
fn a_timed_out_read_leaves_the_stream_usable() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (mut client, mut server) = connected().await;
            let mut buf = [0; 8];
            let timed_out: Result<io::Result<usize>, weft::time::Elapsed> =
                weft::time::timeout(Duration::from_millis(20), server.read(&mut buf)).await;
            assert!(
                timed_out.is_err(),
                "read returned {timed_out:?} with no data sent"
            );
            client.write_all(b"late").await.unwrap();
            let n = weft::time::timeout(Duration::from_secs(20), server.read(&mut buf))
                .await
                .expect("the read after the timeout never finished")
                .unwrap();
            assert!((1..=4).contains(&n));
            server.read_exact(&mut buf[n..4]).await.unwrap();
            assert_eq!(&buf[..4], b"late");
            server.write_all(b"reply").await.unwrap();
            client.read_exact(&mut buf[..5]).await.unwrap();
            assert_eq!(&buf[..5], b"reply");
        });
    });
}

//! Regression tests for bugs a review found in the first reactor: each
//! hung or lost data before its fix. Waits are bounded by [`LIMIT`] (a hang
//! becomes a failure); none asserts how fast anything is.

mod common;

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use weft::time::timeout;

/// Runs `f` on its own thread and fails if it does not finish within
/// [`LIMIT`]: for bugs that spin inside one poll, where no timer can fire.
fn finishes(what: &str, f: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    if finished.recv_timeout(LIMIT).is_err() {
        panic!("{what} did not finish within {LIMIT:?}: a spin or a hang");
    }
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// An error flag used to stay set after the error was reported: the next
/// `recv` on a UDP socket that got an ICMP "port unreachable" found the
/// socket "ready", got `WouldBlock`, cleared nothing and tried again,
/// forever, inside one poll. Now `WouldBlock` clears every flag it saw, so
/// the second `recv` waits (and its timeout fires).
#[test]
fn a_recv_after_an_icmp_error_waits_instead_of_spinning() {
    finishes("recv after an ICMP error", || {
        for_each_workers(|rt| {
            rt.block_on(async {
                let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let closed_addr = closed.local_addr().unwrap();
                drop(closed);
                let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                socket.connect(closed_addr).await.unwrap();
                socket.send(b"x").await.unwrap();
                let mut buf = [0; 16];
                // The ICMP error arrives on loopback before the reply would.
                let first = timeout(LIMIT, socket.recv(&mut buf)).await.unwrap();
                assert_eq!(
                    first.unwrap_err().kind(),
                    std::io::ErrorKind::ConnectionRefused
                );
                let second = timeout(Duration::from_millis(50), socket.recv(&mut buf)).await;
                assert!(second.is_err(), "nothing was sent back: {second:?}");
            });
        });
    });
}

/// `readv` takes at most 1024 buffers; a vectored read of 2048 one-byte
/// buffers returns 1024 bytes although more are queued. Counting all 2048
/// as "asked" made the short-read rule clear readiness with data left, and
/// the next read waited forever.
#[test]
fn a_vectored_read_over_iov_max_leaves_the_rest_readable() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (mut client, mut server) = tcp_pair().await;
            client.write_all(&[7; 4096]).await.unwrap();
            let mut received = 0;
            while received < 2048 {
                let mut storage = vec![[0u8; 1]; 2048];
                let mut bufs: Vec<IoSliceMut<'_>> = storage
                    .iter_mut()
                    .map(|byte| IoSliceMut::new(&mut byte[..]))
                    .collect();
                received += server.read_vectored(&mut bufs).await.unwrap();
            }
            let mut rest = vec![0; 4096 - received];
            timeout(LIMIT, server.read_exact(&mut rest))
                .await
                .expect("queued bytes were never read: readiness was cleared")
                .unwrap();
        });
    });
}

/// The same for `writev`: 2048 one-byte buffers write 1024 bytes into a
/// nearly empty send buffer; clearing writability then blocked the next
/// write forever (the peer reads nothing, so no edge comes).
#[test]
fn a_vectored_write_over_iov_max_leaves_the_stream_writable() {
    for_each_workers(|rt| {
        rt.block_on(async {
            let (mut client, _server) = tcp_pair().await;
            let data = vec![1u8; 2048];
            let bufs: Vec<IoSlice<'_>> = data.chunks(1).map(IoSlice::new).collect();
            let written = client.write_vectored(&bufs).await.unwrap();
            assert!(written > 0);
            timeout(LIMIT, client.write_all(b"more"))
                .await
                .expect("a write into a nearly empty send buffer never finished")
                .unwrap();
        });
    });
}

/// A Unix-stream read stops at a message that carries descriptors, so a
/// short read there does not mean the buffer is drained. The short-read
/// rule (kept for TCP) cleared readiness with "BBBB" still queued.
#[test]
fn a_unix_read_stopped_by_passed_descriptors_leaves_the_rest_readable() {
    let (peer, ours) = std::os::unix::net::UnixStream::pair().unwrap();
    send_with_descriptor(&peer, b"AAAA", 0);
    std::io::Write::write_all(&mut &peer, b"BBBB").unwrap();
    for_each_workers(|rt| {
        let ours = ours.try_clone().unwrap();
        let peer = &peer;
        rt.block_on(async move {
            let mut ours = UnixStream::from_std(ours).unwrap();
            let mut buf = [0; 64];
            let mut got = Vec::new();
            while got.len() < 8 {
                let n = timeout(LIMIT, ours.read(&mut buf))
                    .await
                    .expect("queued bytes were never read: readiness was cleared")
                    .unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"AAAABBBB");
            // Queue the same again for the next runtime size.
            send_with_descriptor(peer, b"AAAA", 0);
            std::io::Write::write_all(&mut &*peer, b"BBBB").unwrap();
        });
    });
}

/// Sends `data` over `socket` with the descriptor `fd` attached
/// (`SCM_RIGHTS`).
fn send_with_descriptor(socket: &std::os::unix::net::UnixStream, data: &[u8], fd: i32) {
    let mut data = data.to_vec();
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` points at `control`, which has room for one header and
    // one i32 (CMSG_SPACE above), so the first header and its data are in
    // bounds; `iov` and `data` outlive the sendmsg call.
    let sent = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as _;
        libc::CMSG_DATA(cmsg).cast::<i32>().write_unaligned(fd);
        libc::sendmsg(socket.as_raw_fd(), &msg, 0)
    };
    assert_eq!(sent, data.len() as isize);
}

/// Dropping a runtime waited for its blocking threads before failing the
/// reactor's timers, and no worker drove the reactor any more: a blocking
/// closure waiting on a timer (through `Handle::block_on`) never returned,
/// and neither did the drop. Now the driver is released first, so the
/// wait fails (the closure panics with the shut-down message) and the drop
/// returns.
#[test]
fn dropping_a_runtime_whose_blocking_closure_waits_on_a_timer_returns() {
    finishes("drop(Runtime)", || {
        for workers in WORKERS {
            let rt = runtime(workers);
            let (started, wait_started) = mpsc::channel();
            let closure = rt.spawn_blocking(move || {
                let handle = weft::Handle::current();
                started.send(()).unwrap();
                handle.block_on(weft::time::sleep(Duration::from_secs(3600)));
            });
            wait_started.recv().unwrap();
            drop(rt);
            let error = weft::block_on(closure).unwrap_err();
            assert!(error.is_panic(), "{error:?}");
        }
    });
}

#[weft::test(threads = 4)]
async fn misspelled() {}

#[weft::test(flavor = "current_thread")]
async fn from_tokio() {}

#[weft::test(worker_threads = 2, start_paused)]
async fn second_unknown() {}

fn main() {}

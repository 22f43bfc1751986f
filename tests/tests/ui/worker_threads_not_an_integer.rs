#[weft::test(worker_threads = "two")]
async fn string() {}

#[weft::test(worker_threads = 2.5)]
async fn float() {}

#[weft::test(worker_threads = -1)]
async fn negative() {}

#[weft::test(worker_threads)]
async fn missing() {}

fn main() {}

using System.Buffers;
using System.Security.Cryptography;
using VisualSearch.Imaging;
using VisualSearch.Ingestion;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Ingestion;

/// <summary>
/// The pooled read of encoded images (issue 13: a reused read buffer per worker instead of a fresh 2.7 MB array per photo):
/// the same bytes as the plain read whatever the stream does, every rented array given back exactly once, and through
/// <see cref="IngestionService"/> the same vectors, hashes and sizes as before, one after another and concurrently.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class PooledReadTests(EncoderFixture fixture) : IDisposable
{
    private readonly EngineHarness _engine = new(fixture);

    public void Dispose() => _engine.Dispose();

    [Theory]
    [InlineData(1000, 1000)]     // as declared
    [InlineData(1000, 1500)]     // shorter than declared
    [InlineData(1000, 600)]      // longer than declared
    [InlineData(70_000, 70_000)] // a read in several pieces
    public async Task The_pooled_read_gives_the_bytes_of_the_stream_and_returns_the_array_once(int length, int declared)
    {
        var data = TestImages.RandomBytes(length);
        var pool = new TrackingPool();

        var plain = await BoundedRead.ReadImageAsync(new TrickleStream(data), declared, 1_000_000, CancellationToken.None);
        using (var pooled = await BoundedRead.ReadImageAsync(new TrickleStream(data), declared, 1_000_000, pool, CancellationToken.None))
        {
            Assert.Equal(data, plain);
            Assert.Equal(data, pooled.Span.ToArray());
            Assert.Equal(length, pooled.Length);
            Assert.Equal(declared >= length ? 1 : 0, pool.Outstanding); // a longer stream's bytes end in their own array
        }

        Assert.Equal(0, pool.Outstanding);
        Assert.Equal(pool.Rents, pool.Returns);
        Assert.Equal(1, pool.Rents);
    }

    [Fact]
    public async Task The_pooled_read_keeps_the_limit_and_gives_the_array_back_when_it_refuses()
    {
        var data = TestImages.RandomBytes(2000);
        var pool = new TrackingPool();

        var declaredOver = await Assert.ThrowsAsync<ImageRejectedException>(() => BoundedRead.ReadImageAsync(new MemoryStream(data), 2000, 1999, pool, CancellationToken.None));
        var streamOver = await Assert.ThrowsAsync<ImageRejectedException>(() => BoundedRead.ReadImageAsync(new MemoryStream(data), 1000, 1999, pool, CancellationToken.None));
        var justOver = await Assert.ThrowsAsync<ImageRejectedException>(() => BoundedRead.ReadImageAsync(new MemoryStream(data), 1999, 1999, pool, CancellationToken.None));

        Assert.Equal(ImageRejectionReason.TooLarge, declaredOver.Reason);
        Assert.Equal(ImageRejectionReason.TooLarge, streamOver.Reason);
        Assert.Equal(ImageRejectionReason.TooLarge, justOver.Reason);
        Assert.Equal(0, pool.Outstanding);
        Assert.Equal(2, pool.Rents); // the declared length over the limit is refused before anything is rented
    }

    [Fact]
    public async Task Disposing_twice_gives_the_array_back_once_so_two_readers_never_share_it()
    {
        var pool = new TrackingPool();
        var first = await BoundedRead.ReadImageAsync(new MemoryStream(new byte[100]), 100, 1000, pool, CancellationToken.None);

        first.Dispose();
        first.Dispose();

        Assert.Equal(1, pool.Returns);
        Assert.Throws<ObjectDisposedException>(() => first.Span.Length);
        using var a = await BoundedRead.ReadImageAsync(new MemoryStream(new byte[100]), 100, 1000, pool, CancellationToken.None);
        using var b = await BoundedRead.ReadImageAsync(new MemoryStream(new byte[100]), 100, 1000, pool, CancellationToken.None);
        Assert.Equal(2, pool.Outstanding); // TrackingPool fails a Return of an array it did not hand out, and two handed out at once are two arrays
    }

    [Fact]
    public async Task Reused_read_buffers_give_the_same_vectors_hashes_and_sizes_one_after_another()
    {
        // Largest first: each later photo is read into a buffer that still holds the tail of a longer one.
        var photos = SamplePhotos.All.Select(n => (Name: n, Bytes: SamplePhotos.Read(n))).OrderByDescending(p => p.Bytes.Length).ToList();
        foreach (var (name, bytes) in photos)
        {
            var result = await _engine.Ingestion.IngestAsync(EngineHarness.Request(name) with { Length = bytes.Length }, new MemoryStream(bytes, writable: false));
            Assert.Equal(IngestOutcome.Indexed, result.Outcome);
        }

        foreach (var (name, bytes) in photos) await AssertStoredAsync(name, bytes);
    }

    [Fact]
    public async Task Concurrent_ingests_each_read_their_own_bytes()
    {
        // Twice each sample photo at once, as parallel workers would: a buffer shared between two ingests would mix their bytes.
        var photos = SamplePhotos.All.SelectMany(n => new[] { (Id: "a/" + n, Bytes: SamplePhotos.Read(n)), (Id: "b/" + n, Bytes: SamplePhotos.Read(n)) }).ToList();
        var results = await Task.WhenAll(photos.Select(p => Task.Run(() =>
            _engine.Ingestion.IngestAsync(EngineHarness.Request(p.Id) with { Length = p.Bytes.Length }, new TrickleStream(p.Bytes)))));

        Assert.All(results, r => Assert.Equal(IngestOutcome.Indexed, r.Outcome));
        foreach (var (id, bytes) in photos) await AssertStoredAsync(id, bytes);
    }

    private async Task AssertStoredAsync(string id, byte[] bytes)
    {
        var stored = await _engine.Index.GetAsync(id);
        Assert.NotNull(stored);
        Assert.Equal(fixture.Embed(bytes), stored.Vector);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), stored.Metadata.ContentHash);
        Assert.Equal(bytes.Length, stored.Metadata.Size);
    }

    /// <summary>A pool that counts rents and returns and refuses the return of an array it has not handed out (or got back already).</summary>
    private sealed class TrackingPool : ArrayPool<byte>
    {
        private readonly HashSet<byte[]> _out = new(ReferenceEqualityComparer.Instance);
        private readonly Stack<byte[]> _free = new();

        public int Rents { get; private set; }

        public int Returns { get; private set; }

        public int Outstanding => _out.Count;

        public override byte[] Rent(int minimumLength)
        {
            lock (_out)
            {
                Rents++;
                var array = _free.Count > 0 && _free.Peek().Length >= minimumLength ? _free.Pop() : new byte[minimumLength + 64];
                Assert.True(_out.Add(array), "an array handed out twice");
                return array;
            }
        }

        public override void Return(byte[] array, bool clearArray = false)
        {
            lock (_out)
            {
                Returns++;
                Assert.True(_out.Remove(array), "an array returned that was not out");
                _free.Push(array);
            }
        }
    }

    /// <summary>A stream that gives at most 4 KB a read, asynchronously (as a network or file stream may).</summary>
    private sealed class TrickleStream(byte[] data) : MemoryStream(data, writable: false)
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return await base.ReadAsync(buffer[..Math.Min(buffer.Length, 4096)], cancellationToken);
        }
    }
}

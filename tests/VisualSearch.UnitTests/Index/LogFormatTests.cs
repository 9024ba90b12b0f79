using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Index;

/// <summary>
/// The on-disk log format stays readable across releases: Fixtures/legacy-log was written by the release that
/// computed the entries' CRC-32 with its own table (before System.IO.Hashing), and must still open whole.
/// </summary>
public sealed class LogFormatTests : IDisposable
{
    private static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "Index", "Fixtures", "legacy-log");
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_log_written_by_the_earlier_release_opens_with_every_record()
    {
        CopyFixture();
        var length = new FileInfo(Path.Combine(_dir.Path, "records.log")).Length;

        using (var index = Open())
        {
            await index.InitializeAsync(new IndexSchema("legacy-model", 4));
            // 3 upserts, a replacement of a and a delete of b: nothing was cut as a torn tail.
            Assert.Equal(length, new FileInfo(Path.Combine(_dir.Path, "records.log")).Length);
            Assert.Equal(2, await index.CountAsync());
            var a = await index.GetAsync("photos/a.png");
            Assert.NotNull(a);
            Assert.Equal([0.5f, 0.5f, 0.5f, 0.5f], a.Vector);
            Assert.Equal("one-replaced", a.Metadata.Tags["album"]);
            Assert.Equal(new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero), a.Metadata.UploadedAt);
            Assert.Null(await index.GetAsync("photos/b.png"));
            var unicode = await index.GetAsync("photos/Ünïcode ファイル.jpg");
            Assert.NotNull(unicode);
            Assert.Equal([0f, 0, 0, 1], unicode.Vector);
            Assert.Equal(["photos/Ünïcode ファイル.jpg", "photos/a.png"], (await index.SearchAsync(new float[] { 0, 0, 0, 1 }, new VectorQuery(5))).Select(h => h.Id));

            // New entries follow the old ones and both read back after a reopen.
            await index.UpsertAsync(a with { Id = "photos/new.png" });
        }

        using var reopened = Open();
        await reopened.InitializeAsync(new IndexSchema("legacy-model", 4));
        Assert.Equal(3, await reopened.CountAsync());
        Assert.Equal("one-replaced", (await reopened.GetAsync("photos/new.png"))?.Metadata.Tags["album"]);
    }

    [Fact]
    public void Every_entry_of_the_earlier_log_checks_against_the_reference_crc()
    {
        var log = File.ReadAllBytes(Path.Combine(Fixture, "records.log"));
        var entries = 0;
        for (var pos = 0; pos < log.Length; entries++)
        {
            Assert.Equal(LogFormat.Magic, BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(pos)));
            var length = BinaryPrimitives.ReadInt32LittleEndian(log.AsSpan(pos + 4));
            var payload = log.AsSpan(pos + LogFormat.HeaderSize, length);
            Assert.Equal(ReferenceCrc32(payload), BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(pos + 8)));
            pos += LogFormat.HeaderSize + length;
        }

        Assert.Equal(5, entries);
    }

    [Fact]
    public void A_new_entry_carries_the_same_crc_and_decodes_back()
    {
        var metadata = new ItemMetadata { Source = "file", Name = "x.png", ContentHash = "h", ContentType = "image/png", ModelId = "m" };
        var entry = LogFormat.Encode(LogFormat.OpUpsert, "x.png", [0.25f, -1f, 3f], metadata);

        Assert.Equal(LogFormat.Magic, BinaryPrimitives.ReadUInt32LittleEndian(entry));
        Assert.Equal(entry.Length - LogFormat.HeaderSize, BinaryPrimitives.ReadInt32LittleEndian(entry.AsSpan(4)));
        Assert.Equal(ReferenceCrc32(entry.AsSpan(LogFormat.HeaderSize)), BinaryPrimitives.ReadUInt32LittleEndian(entry.AsSpan(8)));
        Assert.Equal(0.25f, BitConverter.ToSingle(entry, LogFormat.VectorOffset("x.png")));

        var decoded = LogFormat.TryRead(new MemoryStream(entry)) ?? throw new Xunit.Sdk.XunitException("The entry did not decode.");
        Assert.Equal("x.png", decoded.Id);
        Assert.Equal([0.25f, -1f, 3f], decoded.Vector!);
        // Tags is a dictionary (compared by reference in the record's equality): the rest by value.
        Assert.Equal(metadata, decoded.Metadata! with { Tags = metadata.Tags });
    }

    [Fact]
    public void A_flipped_payload_bit_fails_the_checksum()
    {
        var entry = LogFormat.Encode(LogFormat.OpDelete, "gone", default, null);
        Assert.NotNull(LogFormat.TryRead(new MemoryStream(entry)));
        entry[^1] ^= 0x01;
        Assert.Null(LogFormat.TryRead(new MemoryStream(entry)));
    }

    /// <summary>CRC-32 bit by bit, independent of the index's code: the PNG chunk CRC is the same IEEE 802.3 CRC-32 every release has written.</summary>
    private static uint ReferenceCrc32(ReadOnlySpan<byte> data) => TestImages.PngCrc(data);

    private void CopyFixture()
    {
        foreach (var file in Directory.GetFiles(Fixture)) File.Copy(file, Path.Combine(_dir.Path, Path.GetFileName(file)));
    }

    private LocalVectorIndex Open() =>
        new(Options.Create(new LocalIndexOptions { Path = _dir.Path }), NullLogger<LocalVectorIndex>.Instance);
}

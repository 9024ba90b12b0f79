using Microsoft.Extensions.Logging.Abstractions;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using static VisualSearch.UnitTests.Index.PartsFixture;

namespace VisualSearch.UnitTests.Index;

/// <summary>The record log on its own: append and replay, the torn tail, compaction and the directory lock.</summary>
public sealed class RecordLogTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private string LogPath => Path.Combine(_dir.Path, RecordLog.FileName);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Appended_entries_replay_in_order_with_the_offsets_of_their_vectors()
    {
        long length;
        using (var log = Open())
        {
            log.Replay((_, _) => throw new InvalidOperationException("A new log has no entries."));
            Assert.Equal(0, log.Length);
            var first = log.Append(Upsert("a", [1, 2, 3]));
            var second = log.Append(LogFormat.Encode(LogFormat.OpDelete, "a", default, null));
            var third = log.Append(Upsert("b", [4, 5, 6]));
            Assert.Equal(0, first);
            Assert.True(first < second && second < third);
            Assert.Equal(3, log.Entries);
            Assert.Equal(new FileInfo(LogPath).Length, log.Length);
            length = log.Length;
        }

        using var reopened = Open();
        var seen = new List<(byte Op, string Id, long Offset)>();
        reopened.Replay((entry, offset) =>
        {
            seen.Add((entry.Op, entry.Id, offset));
            return true;
        });

        Assert.Equal([LogFormat.OpUpsert, LogFormat.OpDelete, LogFormat.OpUpsert], seen.Select(s => s.Op));
        Assert.Equal(["a", "a", "b"], seen.Select(s => s.Id));
        Assert.Equal(-1, seen[1].Offset);
        Assert.Equal(3, reopened.Entries);
        Assert.Equal(length, reopened.Length);
        var vector = new float[3];
        reopened.ReadVector(seen[2].Offset, vector, "b");
        Assert.Equal([4f, 5, 6], vector);
        reopened.ReadVector(seen[0].Offset, vector, "a");
        Assert.Equal([1f, 2, 3], vector);
    }

    [Fact]
    public void Replay_cuts_a_torn_tail_and_new_entries_follow_the_last_whole_one()
    {
        long whole;
        using (var log = Open())
        {
            log.Replay((_, _) => true);
            log.Append(Upsert("a", [1, 0]));
            log.Append(Upsert("b", [0, 1]));
            whole = log.Length;
        }

        var half = Upsert("c", [1, 1]);
        using (var file = new FileStream(LogPath, FileMode.Append)) file.Write(half, 0, half.Length / 2);

        using (var log = Open())
        {
            Assert.Equal(["a", "b"], ReplayIds(log));
            Assert.Equal(whole, log.Length);
            Assert.Equal(whole, new FileInfo(LogPath).Length);
            log.Append(Upsert("d", [1, 1]));
        }

        using var again = Open();
        Assert.Equal(["a", "b", "d"], ReplayIds(again));
    }

    [Fact]
    public void An_entry_the_caller_refuses_ends_the_log_like_a_torn_one()
    {
        using (var log = Open())
        {
            log.Replay((_, _) => true);
            log.Append(Upsert("a", [1, 0]));
            log.Append(Upsert("foreign", [0, 1]));
            log.Append(Upsert("b", [1, 1]));
        }

        var firstLength = LogFormat.Encode(LogFormat.OpUpsert, "a", new float[] { 1, 0 }, Metadata("a")).Length;
        using var reopened = Open();
        var ids = new List<string>();
        reopened.Replay((entry, _) =>
        {
            if (entry.Id == "foreign") return false;
            ids.Add(entry.Id);
            return true;
        });

        Assert.Equal(["a"], ids);
        Assert.Equal(1, reopened.Entries);
        Assert.Equal(firstLength, new FileInfo(LogPath).Length);
    }

    [Fact]
    public void Compaction_is_due_past_1000_entries_and_the_ratio()
    {
        using var log = Open();
        log.Replay((_, _) => true);
        var entry = LogFormat.Encode(LogFormat.OpDelete, "x", default, null);
        for (var i = 0; i < 1000; i++) log.Append(entry);
        Assert.False(log.NeedsCompaction(liveRecords: 0, ratio: 2));
        log.Append(entry);
        Assert.True(log.NeedsCompaction(liveRecords: 0, ratio: 2));
        Assert.True(log.NeedsCompaction(liveRecords: 500, ratio: 2));
        Assert.False(log.NeedsCompaction(liveRecords: 501, ratio: 2));
    }

    [Fact]
    public void Compaction_keeps_only_the_records_given_and_swaps_after_the_callback()
    {
        using (var log = Open())
        {
            log.Replay((_, _) => true);
            for (var i = 0; i < 10; i++) log.Append(Upsert("same", [i, 1]));
            log.Append(Upsert("other", [0, 7]));
            var oldLength = log.Length;
            var swapSawOldLog = false;

            var offsets = log.Compact(
                [("same", new float[] { 9, 1 }, Metadata("same")), ("other", new float[] { 0, 7 }, Metadata("other"))],
                beforeSwap: () => swapSawOldLog = new FileInfo(LogPath).Length == oldLength && File.Exists(LogPath + ".compact"));

            Assert.True(swapSawOldLog);
            Assert.False(File.Exists(LogPath + ".compact"));
            Assert.Equal(2, log.Entries);
            Assert.Equal(new FileInfo(LogPath).Length, log.Length);
            Assert.True(log.Length < oldLength);
            var vector = new float[2];
            log.ReadVector(offsets[1], vector, "other");
            Assert.Equal([0f, 7], vector);
            log.ReadVector(offsets[0], vector, "same");
            Assert.Equal([9f, 1], vector);
            log.Append(Upsert("after", [1, 1]));
        }

        using var reopened = Open();
        Assert.Equal(["same", "other", "after"], ReplayIds(reopened));
    }

    [Fact]
    public void A_compaction_that_fails_before_the_swap_leaves_the_old_log_open()
    {
        using var log = Open();
        log.Replay((_, _) => true);
        log.Append(Upsert("a", [1, 0]));
        var length = log.Length;

        Assert.Throws<IOException>(() => log.Compact([("a", new float[] { 1, 0 }, Metadata("a"))], beforeSwap: () => throw new IOException("disk gone")));

        Assert.False(File.Exists(LogPath + ".compact"));
        Assert.Equal(length, new FileInfo(LogPath).Length);
        log.Append(Upsert("b", [0, 1]));
        Assert.Equal(2, log.Entries);
        Assert.Equal(new FileInfo(LogPath).Length, log.Length);
    }

    [Fact]
    public void The_lock_keeps_a_second_log_out_until_the_first_is_disposed()
    {
        var first = Open();
        var ex = Assert.ThrowsAny<IOException>(Open);
        Assert.Contains("in use", ex.Message, StringComparison.Ordinal);

        first.Dispose();
        using var second = Open();
        second.Replay((_, _) => true);
    }

    [Fact]
    public void Reading_past_the_end_of_the_log_is_corruption()
    {
        using var log = Open();
        log.Replay((_, _) => true);
        log.Append(Upsert("a", [1, 0]));
        var ex = Assert.Throws<InvalidDataException>(() => log.ReadVector(log.Length - 4, new float[2], "a"));
        Assert.Contains("'a'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_append_is_cut_back_so_later_acknowledged_entries_survive_the_next_replay()
    {
        var failures = new FailingAppends { FailNext = 0 };
        using (var log = RecordLog.Open(_dir.Path, flushToDisk: false, NullLogger.Instance, failures.Open))
        {
            log.Replay((_, _) => true);
            log.Append(Upsert("a", [1, 0]));
            var whole = log.Length;

            // Disk full half-way through "lost": half its bytes reach the file, then the write fails.
            failures.FailNext = 1;
            Assert.Throws<IOException>(() => log.Append(Upsert("lost", [0, 1])));
            Assert.Equal(1, failures.Failed);
            Assert.Equal(whole, log.Length);
            Assert.Equal(whole, new FileInfo(LogPath).Length);

            log.Append(Upsert("b", [1, 1]));
            Assert.Equal(log.Length, new FileInfo(LogPath).Length);
        }

        using var reopened = Open();
        Assert.Equal(["a", "b"], ReplayIds(reopened));
    }

    [Fact]
    public void While_a_failed_append_cannot_be_cut_back_every_append_is_refused()
    {
        var failures = new FailingAppends { FailNext = 0 };
        using (var log = RecordLog.Open(_dir.Path, flushToDisk: false, NullLogger.Instance, failures.Open))
        {
            log.Replay((_, _) => true);
            log.Append(Upsert("a", [1, 0]));
            failures.FailNext = 1;
            failures.RefuseOpen = true;
            Assert.Throws<IOException>(() => log.Append(Upsert("lost", [0, 1])));
            // The partial entry is cut, but the log cannot be reopened for appending: writes are refused, none lands.
            Assert.Throws<IOException>(() => log.Append(Upsert("refused", [1, 1])));
            failures.RefuseOpen = false;
            log.Append(Upsert("b", [1, 1]));
        }

        using var reopened = Open();
        Assert.Equal(["a", "b"], ReplayIds(reopened));
    }

    /// <summary>Replays the log, taking every entry; returns their ids in order.</summary>
    private static List<string> ReplayIds(RecordLog log)
    {
        var ids = new List<string>();
        log.Replay((entry, _) =>
        {
            ids.Add(entry.Id);
            return true;
        });
        return ids;
    }

    private static byte[] Upsert(string id, float[] vector) => LogFormat.Encode(LogFormat.OpUpsert, id, vector, Metadata(id));

    private RecordLog Open() => RecordLog.Open(_dir.Path, flushToDisk: false, NullLogger.Instance);

    /// <summary>
    /// Opens the log for appending as the log does, but can make the next writes fail part-way (half the bytes
    /// written, then an IOException, as a full disk does) or refuse to open the file at all.
    /// </summary>
    private sealed class FailingAppends
    {
        public int FailNext { get; set; }

        public int Failed { get; private set; }

        public bool RefuseOpen { get; set; }

        public Stream Open(string path) => RefuseOpen
            ? throw new IOException("No space left on device (injected)")
            : new Appender(this, new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0));

        private sealed class Appender(FailingAppends owner, FileStream inner) : Stream
        {
            public override bool CanRead => false;

            public override bool CanSeek => false;

            public override bool CanWrite => true;

            public override long Length => inner.Length;

            public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

            public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

            public override void Write(ReadOnlySpan<byte> buffer)
            {
                if (owner.FailNext > 0)
                {
                    owner.FailNext--;
                    owner.Failed++;
                    inner.Write(buffer[..(buffer.Length / 2)]);
                    inner.Flush();
                    throw new IOException("No space left on device (injected)");
                }

                inner.Write(buffer);
            }

            public override void Flush() => inner.Flush();

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            protected override void Dispose(bool disposing)
            {
                if (disposing) inner.Dispose();
                base.Dispose(disposing);
            }
        }
    }
}

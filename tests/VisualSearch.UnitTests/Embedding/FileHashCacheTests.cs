using System.Security.Cryptography;
using VisualSearch.Embedding.Quantization;

namespace VisualSearch.UnitTests.Embedding;

/// <summary>The model files' SHA-256, remembered by path, size and time: never a stale or wrong hash, only a skipped one.</summary>
public sealed class FileHashCacheTests
{
    [Fact]
    public void A_cached_hash_is_the_files_hash_and_a_changed_file_is_hashed_again()
    {
        using var temp = new TempDirectory("vs-hashes-");
        var cache = Path.Combine(temp.Path, "cache");
        var file = Path.Combine(temp.Path, "model.onnx");
        File.WriteAllBytes(file, [1, 2, 3]);

        var first = FileHashCache.Sha256Of(file, cache);
        Assert.Equal(Expected(file), first);
        var entry = Assert.Single(Directory.GetFiles(cache));
        Assert.Equal(first, FileHashCache.Sha256Of(file, cache));

        // The entry is what answers while size and time are unchanged: an entry edited to another hash is returned as it is.
        var lines = File.ReadAllLines(entry);
        var forged = lines[0][..^64] + new string('a', 64);
        File.WriteAllLines(entry, [forged, lines[1]]);
        Assert.Equal(new string('a', 64), FileHashCache.Sha256Of(file, cache));

        // Same size, new content and time: hashed again, and the entry rewritten.
        File.WriteAllBytes(file, [3, 2, 1]);
        File.SetLastWriteTimeUtc(file, File.GetLastWriteTimeUtc(file).AddSeconds(5));
        Assert.Equal(Expected(file), FileHashCache.Sha256Of(file, cache));
        Assert.Equal(Expected(file), File.ReadAllLines(entry)[0].Split(' ')[2]);

        // New size, same time: hashed again.
        var time = File.GetLastWriteTimeUtc(file);
        File.WriteAllBytes(file, [3, 2, 1, 0]);
        File.SetLastWriteTimeUtc(file, time);
        Assert.Equal(Expected(file), FileHashCache.Sha256Of(file, cache));
    }

    [Fact]
    public void A_damaged_entry_or_an_unusable_cache_folder_costs_only_the_hash()
    {
        using var temp = new TempDirectory("vs-hashes-");
        var cache = Path.Combine(temp.Path, "cache");
        var file = Path.Combine(temp.Path, "model.onnx");
        File.WriteAllBytes(file, new byte[5000]);
        var expected = Expected(file);

        FileHashCache.Sha256Of(file, cache);
        var entry = Assert.Single(Directory.GetFiles(cache));
        File.WriteAllText(entry, "not an entry");
        Assert.Equal(expected, FileHashCache.Sha256Of(file, cache));
        Assert.Equal(expected, File.ReadAllLines(entry)[0].Split(' ')[2]);

        // The cache "folder" is a file: nothing can be written there, the hash is still right.
        var blocked = Path.Combine(temp.Path, "blocked");
        File.WriteAllText(blocked, "");
        Assert.Equal(expected, FileHashCache.Sha256Of(file, blocked));
        Assert.Equal(expected, FileHashCache.Sha256Of(file, null));
        Assert.Throws<FileNotFoundException>(() => FileHashCache.Sha256Of(Path.Combine(temp.Path, "missing.onnx"), cache));
    }

    [Fact]
    public void A_cache_folder_others_can_write_is_not_trusted_and_the_default_is_the_users_own()
    {
        using var temp = new TempDirectory("vs-hashes-");
        var cache = Path.Combine(temp.Path, "cache");
        var file = Path.Combine(temp.Path, "model.onnx");
        File.WriteAllBytes(file, [4, 5, 6]);
        FileHashCache.Sha256Of(file, cache);
        var entry = Assert.Single(Directory.GetFiles(cache));
        var lines = File.ReadAllLines(entry);
        File.WriteAllLines(entry, [lines[0][..^64] + new string('b', 64), lines[1]]);
        Assert.Equal(new string('b', 64), FileHashCache.Sha256Of(file, cache)); // a private folder's entry answers (the first test pins this)

        if (!OperatingSystem.IsWindows())
        {
            // Writable by others (as a folder someone else made in a shared place would be): its entries are ignored.
            File.SetUnixFileMode(cache, File.GetUnixFileMode(cache) | UnixFileMode.OtherWrite | UnixFileMode.GroupWrite);
            Assert.Equal(Expected(file), FileHashCache.Sha256Of(file, cache));
            Assert.Equal(new string('b', 64), File.ReadAllLines(entry)[0].Split(' ')[2]); // and nothing is written there either
        }

        // The default is the user's cache folder, never the shared temporary one.
        var defaultDirectory = FileHashCache.DefaultDirectory;
        if (defaultDirectory is not null)
            Assert.False(Path.GetFullPath(defaultDirectory).StartsWith(Path.GetFullPath(Path.GetTempPath()), StringComparison.Ordinal), defaultDirectory);
    }

    private static string Expected(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}

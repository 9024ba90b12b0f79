using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace VisualSearch.Embedding.Quantization;

/// <summary>
/// SHA-256 of the model files, remembered across processes by path, size and last-write time (as make and git's index
/// decide that a file is unchanged). The encoder hashes the 64 MB float model and the calibration photos (the int8
/// model's cache key) and the 16 MB int8 model (its model id) at every start: about 65 ms of a 1-photo
/// <c>vsearch index</c> process on one core (issue 13), the same every time for files that never change.
/// </summary>
/// <remarks>
/// One small text file per hashed path in <see cref="DefaultDirectory"/> (the user's own cache folder, never the shared
/// temporary one: an entry names the hash a model id is made of): size, last-write
/// ticks (UTC) and the hex hash. A file whose size or time differs is hashed again and its entry rewritten (a temporary
/// file renamed into place, so a reader sees the old entry or the new one). The cache is only a shortcut: an entry
/// that cannot be read, parsed or written is ignored and the file is hashed as before. It trusts the file system's
/// times as a build tool does; a file changed in place with its size and time restored is not noticed, which needs
/// the same write access to the model folder that replacing the model itself does.
/// </remarks>
public static class FileHashCache
{
    /// <summary>
    /// Where entries go unless told otherwise: <c>$XDG_CACHE_HOME/visualsearch/sha256</c>, else <c>~/.cache/visualsearch/sha256</c>
    /// (on Windows the local application data folder); null (no cache, every file hashed) when the process has no home.
    /// Not the temporary folder: another local user could place entries there, and an entry is trusted as the file's hash.
    /// </summary>
    public static string? DefaultDirectory { get; } = UserCacheDirectory();

    /// <summary>Hex SHA-256 (lower case) of the file, from the cache when its size and last-write time match.</summary>
    /// <param name="path">The file.</param>
    /// <param name="cacheDirectory">The cache folder (default <see cref="DefaultDirectory"/>); null or empty: none, always hash.</param>
    public static string Sha256Of(string path, string? cacheDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        if (!info.Exists) throw new FileNotFoundException($"'{full}' does not exist.", full);
        var stamp = string.Create(CultureInfo.InvariantCulture, $"{info.Length} {info.LastWriteTimeUtc.Ticks}");
        var entry = string.IsNullOrEmpty(cacheDirectory) ? null : Path.Combine(cacheDirectory, EntryName(full));
        if (entry is not null && !IsPrivate(cacheDirectory!)) entry = null;
        if (entry is not null && TryRead(entry, full, stamp) is { } cached) return cached;

        var hash = Hash(full);
        if (entry is not null && new FileInfo(full) is { Exists: true } after && after.Length == info.Length && after.LastWriteTimeUtc == info.LastWriteTimeUtc)
            TryWrite(entry, $"{stamp} {hash}\n{full}\n");
        return hash;
    }

    /// <summary>Hex SHA-256 of a file, read in 1 MB blocks (with the default 4 KB buffer the 64 MB model took 19,000 read calls).</summary>
    public static string Hash(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    private static string? UserCacheDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathFullyQualified(xdg)) return Path.Combine(xdg, "visualsearch", "sha256");
        var baseDir = OperatingSystem.IsWindows()
            ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
            : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } home ? Path.Combine(home, ".cache") : "";
        return string.IsNullOrEmpty(baseDir) ? null : Path.Combine(baseDir, "visualsearch", "sha256");
    }

    /// <summary>
    /// On Unix, a cache folder that exists must not be writable by group or others (entries there could be placed by
    /// someone else); a missing one is created by this process with its default mode. Windows folders keep their ACLs.
    /// </summary>
    private static bool IsPrivate(string directory)
    {
        if (OperatingSystem.IsWindows()) return true;
        try
        {
            if (!Directory.Exists(directory)) return true;
            return (File.GetUnixFileMode(directory) & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) == 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string EntryName(string fullPath) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(fullPath)))[..32] + ".txt";

    private static string? TryRead(string entry, string fullPath, string stamp)
    {
        try
        {
            if (!File.Exists(entry)) return null;
            var lines = File.ReadAllLines(entry);
            // "<size> <ticks> <hash>" then the path (a different path with the same entry name is a miss, not a wrong hash)
            if (lines.Length < 2 || lines[1] != fullPath) return null;
            var parts = lines[0].Split(' ');
            if (parts.Length != 3 || $"{parts[0]} {parts[1]}" != stamp) return null;
            var hash = parts[2];
            return hash.Length == 64 && hash.All(char.IsAsciiHexDigitLower) ? hash : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void TryWrite(string entry, string content)
    {
        var temp = $"{entry}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(entry)!);
            File.WriteAllText(temp, content);
            File.Move(temp, entry, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // a cache that cannot be written costs only the hash next time
        }
        finally
        {
            try
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}

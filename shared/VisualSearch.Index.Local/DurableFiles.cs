namespace VisualSearch.Index.Local;

/// <summary>
/// The crash-safe file steps the log, the saved graph and index.json share: write beside the target, fsync,
/// rename over it (atomic), fsync the directory so the rename itself survives a power cut.
/// </summary>
internal static class DurableFiles
{
    /// <summary>Replaces <paramref name="path"/> with <paramref name="content"/>: a crash leaves the old file or the new one, never a mix.</summary>
    public static void WriteAtomically(string path, byte[] content) => WriteAtomically(path, file => file.Write(content));

    /// <summary>
    /// Replaces <paramref name="path"/> with what <paramref name="write"/> writes (streamed, for files too large to
    /// hold twice): a crash leaves the old file or the new one, never a mix. On a failure the temporary file goes.
    /// </summary>
    public static void WriteAtomically(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var temp = path + ".tmp";
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }

        FsyncDirectory(Path.GetDirectoryName(path)!);
    }

    /// <summary>Makes the directory's entries (a rename, a delete) durable; a no-op where directories cannot be opened.</summary>
    public static void FsyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        try
        {
            using var dir = File.OpenHandle(directory, FileMode.Open, FileAccess.Read);
            RandomAccess.FlushToDisk(dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not every file system lets a directory be opened; the rename itself is still atomic.
        }
    }
}

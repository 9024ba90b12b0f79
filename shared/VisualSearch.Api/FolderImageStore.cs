using VisualSearch.Imaging;
using VisualSearch.Indexing;

namespace VisualSearch.Api;

/// <summary>
/// Originals in a local folder: the items of one <see cref="Source"/> whose <see cref="ItemMetadata.Name"/> is a
/// path relative to <see cref="Root"/> ("file" items of <c>vsearch index</c>, uploads to the local host). A name
/// never leaves the root.
/// </summary>
public sealed class FolderImageStore : IDeletableImageStore
{
    public FolderImageStore(string source, string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentException.ThrowIfNullOrEmpty(root);
        Source = source;
        Root = Path.GetFullPath(root);
    }

    public string Source { get; }

    public string Root { get; }

    public Task<Stream?> OpenReadAsync(ItemMetadata item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        cancellationToken.ThrowIfCancellationRequested();
        if (!string.Equals(item.Source, Source, StringComparison.Ordinal) || PathOf(item.Name) is not { } path) return Task.FromResult<Stream?>(null);
        try
        {
            return Task.FromResult<Stream?>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    /// <summary>Writes an image under <paramref name="name"/> (temporary file, then rename), creating folders.</summary>
    public async Task SaveAsync(string name, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        var path = PathOf(name) ?? throw new ArgumentException($"'{name}' is not a relative path inside {Root}.", nameof(name));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            await File.WriteAllBytesAsync(temporary, bytes, cancellationToken).ConfigureAwait(false);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>Deletes the item's file when it is one of this folder's items (a duplicate the user chose not to keep).</summary>
    public Task<bool> DeleteAsync(ItemMetadata item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(string.Equals(item.Source, Source, StringComparison.Ordinal) && Delete(item.Name));
    }

    /// <summary>Removes an image (and its folder when that is left empty); false if there was none.</summary>
    public bool Delete(string name)
    {
        if (PathOf(name) is not { } path || !File.Exists(path)) return false;
        File.Delete(path);
        var folder = Path.GetDirectoryName(path);
        if (folder is not null && folder.Length > Root.Length && !Directory.EnumerateFileSystemEntries(folder).Any()) Directory.Delete(folder);
        return true;
    }

    /// <summary>The name (relative, '/'-separated) of the first file in <paramref name="folder"/>, or null if it has none.</summary>
    public string? FindFirst(string folder)
    {
        if (PathOf(folder) is not { } path || !Directory.Exists(path)) return null;
        var file = Directory.EnumerateFiles(path).Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal)).Order(StringComparer.Ordinal).FirstOrDefault();
        return file is null ? null : Path.GetRelativePath(Root, file).Replace(Path.DirectorySeparatorChar, '/');
    }

    /// <summary>The full path of a relative name, or null for a name that is empty, rooted or escapes the root.</summary>
    private string? PathOf(string name)
    {
        if (string.IsNullOrEmpty(name) || Path.IsPathRooted(name) || name.Contains('\\', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal)) return null;
        var full = Path.GetFullPath(Path.Combine(Root, name));
        return full.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal) ? full : null;
    }
}

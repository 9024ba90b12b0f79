namespace VisualSearch.Evaluation;

/// <summary>One labelled image.</summary>
/// <param name="Path">Full path of the file.</param>
/// <param name="Id">Its path relative to the set's root, with '/' separators.</param>
/// <param name="Label">The class.</param>
/// <param name="Subset">The group it is scored in: the first path segment of a manifest entry, or the folder's name.</param>
public sealed record LabelledItem(string Path, string Id, string Label, string Subset);

/// <summary>
/// A labelled image set: a folder whose sub-folders are the classes, or a manifest.csv with <c>file</c> and
/// <c>label</c> columns (and optionally <c>task</c>), paths relative to the manifest's folder.
/// </summary>
public sealed class LabelledSet
{
    /// <summary>The image file extensions: <see cref="VisualSearch.Imaging.ImageFormats.FileExtensions"/>, the one list.</summary>
    public static IReadOnlySet<string> ImageExtensions => VisualSearch.Imaging.ImageFormats.FileExtensions;

    private LabelledSet(string root, IReadOnlyList<LabelledItem> items, int ignored)
    {
        Root = root;
        Items = items;
        Ignored = ignored;
    }

    /// <summary>The folder the ids are relative to.</summary>
    public string Root { get; }

    /// <summary>Sorted by subset, then id (ordinal).</summary>
    public IReadOnlyList<LabelledItem> Items { get; }

    /// <summary>Files that were left out: not images, outside a class folder, or missing from disk.</summary>
    public int Ignored { get; }

    public IReadOnlyList<string> Subsets => Items.Select(i => i.Subset).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>Loads a folder (class = the first sub-folder below it) or a manifest.csv.</summary>
    /// <param name="path">A folder or a .csv file.</param>
    /// <param name="subset">Keep only this subset (a manifest's first path segment).</param>
    /// <param name="task">Keep only manifest rows of this task.</param>
    public static LabelledSet Load(string path, string? subset = null, string? task = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = System.IO.Path.GetFullPath(path);
        if (File.Exists(full)) return FromManifest(full, subset, task);
        if (Directory.Exists(full)) return FromFolder(full);
        throw new FileNotFoundException($"No labelled set at '{full}': give a folder of class sub-folders or a manifest.csv.", full);
    }

    /// <summary>A folder whose immediate sub-folders are the classes; images anywhere below a class folder belong to it.</summary>
    public static LabelledSet FromFolder(string folder)
    {
        var root = System.IO.Path.GetFullPath(folder);
        var subset = System.IO.Path.GetFileName(root.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        var items = new List<LabelledItem>();
        var ignored = 0;
        foreach (var file in Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System }))
        {
            var id = System.IO.Path.GetRelativePath(root, file).Replace('\\', '/');
            var slash = id.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0 || !ImageExtensions.Contains(System.IO.Path.GetExtension(file)))
            {
                ignored++;
                continue;
            }

            items.Add(new LabelledItem(file, id, id[..slash], subset));
        }

        return new LabelledSet(root, Sort(items), ignored);
    }

    /// <summary>A CSV with a header naming at least <c>file</c> and <c>label</c>; <c>task</c> is optional.</summary>
    public static LabelledSet FromManifest(string manifestPath, string? subset = null, string? task = null)
    {
        var full = System.IO.Path.GetFullPath(manifestPath);
        var root = System.IO.Path.GetDirectoryName(full)!;
        using var reader = new StreamReader(full);
        var header = reader.ReadLine() ?? throw new InvalidDataException($"{full} is empty.");
        var columns = SplitCsv(header).Select(c => c.Trim().ToLowerInvariant()).ToList();
        var fileColumn = columns.IndexOf("file");
        var labelColumn = columns.IndexOf("label");
        var taskColumn = columns.IndexOf("task");
        if (fileColumn < 0 || labelColumn < 0)
            throw new InvalidDataException($"{full} needs a header with 'file' and 'label' columns (has: {header}).");

        var items = new List<LabelledItem>();
        var ignored = 0;
        string? line;
        var lineNumber = 1;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Length == 0) continue;
            var fields = SplitCsv(line);
            if (fields.Count <= Math.Max(fileColumn, labelColumn))
                throw new InvalidDataException($"{full}:{lineNumber}: expected {columns.Count} fields.");
            if (task is not null && (taskColumn < 0 || taskColumn >= fields.Count || !string.Equals(fields[taskColumn], task, StringComparison.Ordinal)))
                continue;

            var id = fields[fileColumn].Replace('\\', '/');
            var slash = id.IndexOf('/', StringComparison.Ordinal);
            var itemSubset = slash > 0 ? id[..slash] : System.IO.Path.GetFileName(root);
            if (subset is not null && !string.Equals(itemSubset, subset, StringComparison.Ordinal)) continue;

            var file = System.IO.Path.GetFullPath(System.IO.Path.Combine(root, id));
            if (!file.StartsWith(root + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(file) || !ImageExtensions.Contains(System.IO.Path.GetExtension(file)))
            {
                ignored++;
                continue;
            }

            items.Add(new LabelledItem(file, id, fields[labelColumn], itemSubset));
        }

        return new LabelledSet(root, Sort(items), ignored);
    }

    /// <summary>The classes in ordinal order.</summary>
    public static IReadOnlyList<string> Classes(IEnumerable<LabelledItem> items) =>
        items.Select(i => i.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// The zero-shot split of CUB/Cars/SOP: the first half of the classes (ordinal order, rounded up) trains,
    /// the second half tests, so a head is always scored on classes it never saw.
    /// </summary>
    public static (IReadOnlyList<LabelledItem> Train, IReadOnlyList<LabelledItem> Test) SplitByClass(IReadOnlyList<LabelledItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var classes = Classes(items);
        var trainClasses = classes.Take((classes.Count + 1) / 2).ToHashSet(StringComparer.Ordinal);
        return (items.Where(i => trainClasses.Contains(i.Label)).ToList(), items.Where(i => !trainClasses.Contains(i.Label)).ToList());
    }

    private static List<LabelledItem> Sort(List<LabelledItem> items)
    {
        items.Sort((a, b) =>
        {
            var c = string.CompareOrdinal(a.Subset, b.Subset);
            return c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
        });
        return items;
    }

    /// <summary>Splits one CSV line (RFC 4180 quotes, doubled quotes inside).</summary>
    internal static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else current.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { fields.Add(current.ToString()); current.Clear(); }
            else current.Append(ch);
        }

        fields.Add(current.ToString().TrimEnd('\r'));
        return fields;
    }
}

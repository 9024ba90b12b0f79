namespace VisualSearch.Ingestion;

/// <summary>Item ids: derived from where an image lives, and checked wherever one comes in from outside.</summary>
public static class ItemIds
{
    public const int MaxLength = 1024;

    /// <summary>A blob container name as Azure Storage accepts it: 3-63 lowercase letters, digits and single hyphens, starting and ending alphanumeric.</summary>
    public const string ContainerNamePattern = "^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$";

    /// <summary>The id of a blob: <c>container/blob/name</c>.</summary>
    public static string ForBlob(string container, string blobName) => $"{container}/{blobName}";

    /// <summary>
    /// A valid id is 1-1024 characters of '/'-separated segments, none empty, "." or "..", with no
    /// backslash or control character, so an id can never act as a path.
    /// </summary>
    public static bool IsValid(string? id, out string error)
    {
        error = "";
        if (string.IsNullOrEmpty(id)) { error = "The id is empty."; return false; }
        if (id.Length > MaxLength) { error = $"The id is longer than {MaxLength} characters."; return false; }
        foreach (var c in id)
        {
            if (char.IsControl(c) || c == '\\') { error = "The id contains a control character or a backslash."; return false; }
        }

        foreach (var segment in id.Split('/'))
        {
            if (segment.Length == 0 || segment == "." || segment == "..")
            {
                error = "The id has an empty, '.' or '..' segment.";
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// True if <paramref name="container"/> is a valid container name and <c>container/blobName</c> a valid id: what
    /// an event or a request names is checked with this before any storage call is made for it.
    /// </summary>
    public static bool IsValidBlob(string? container, string? blobName, out string error)
    {
        if (container is null || !System.Text.RegularExpressions.Regex.IsMatch(container, ContainerNamePattern, System.Text.RegularExpressions.RegexOptions.CultureInvariant))
        {
            error = "The container name is not 3-63 lowercase letters, digits and single hyphens.";
            return false;
        }

        return IsValid(ForBlob(container, blobName ?? ""), out error) && !string.IsNullOrEmpty(blobName);
    }

    public static void Validate(string? id, string paramName = "id")
    {
        if (!IsValid(id, out var error)) throw new ArgumentException(error, paramName);
    }
}

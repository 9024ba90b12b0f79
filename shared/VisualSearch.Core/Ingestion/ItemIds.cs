namespace VisualSearch.Ingestion;

/// <summary>Item ids: derived from where an image lives, and checked wherever one comes in from outside.</summary>
public static class ItemIds
{
    public const int MaxLength = 1024;

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

    public static void Validate(string? id, string paramName = "id")
    {
        if (!IsValid(id, out var error)) throw new ArgumentException(error, paramName);
    }
}

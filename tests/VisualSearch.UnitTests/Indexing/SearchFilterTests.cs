using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Indexing;

public sealed class SearchFilterTests
{
    [Theory]
    [InlineData("contentType eq 'image/png'")]
    [InlineData("source eq 'photos' and album eq 'holiday' and owner eq 'ann' and tag eq 'beach'")]
    [InlineData("album eq 'O''Brien'")]
    [InlineData("uploadedAt ge 2024-01-01T00:00:00Z")]
    [InlineData("uploadedAt gt 2024-01-01T00:00:00Z and uploadedAt lt 2024-02-01T12:30:00Z")]
    [InlineData("contentType eq 'image/jpeg' and uploadedAt ge 2024-01-01T00:00:00Z and uploadedAt le 2024-12-31T23:59:59.5Z")]
    public void Valid_expressions_round_trip(string text)
    {
        var filter = SearchFilter.Parse(text);

        Assert.NotNull(filter);
        Assert.Equal(text, filter.ToString());
        var again = SearchFilter.Parse(filter.ToString());
        Assert.NotNull(again);
        Assert.Equal(filter.Conditions, again.Conditions);
        Assert.Equal(filter.UploadedFrom, again.UploadedFrom);
        Assert.Equal(filter.UploadedTo, again.UploadedTo);
    }

    [Fact]
    public void Parses_conditions_and_bounds()
    {
        var filter = SearchFilter.Parse("contentType eq 'image/png' and album eq 'x y' and uploadedAt ge 2024-01-01T00:00:00Z and uploadedAt lt 2024-06-01T00:00:00+02:00");

        Assert.NotNull(filter);
        Assert.Equal([new FieldEquals("contentType", "image/png"), new FieldEquals("album", "x y")], filter.Conditions);
        Assert.Equal(new TimeBound(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero), Inclusive: true), filter.UploadedFrom);
        Assert.Equal(new TimeBound(new DateTimeOffset(2024, 5, 31, 22, 0, 0, TimeSpan.Zero), Inclusive: false), filter.UploadedTo);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Blank_gives_no_filter(string? text) => Assert.Null(SearchFilter.Parse(text));

    [Fact]
    public void Doubled_quotes_are_one_quote()
    {
        var filter = SearchFilter.Parse("album eq 'O''Brien'");
        Assert.NotNull(filter);
        Assert.Equal("O'Brien", Assert.Single(filter.Conditions).Value);
    }

    [Fact]
    public void Injection_looking_value_stays_one_value()
    {
        var filter = SearchFilter.Parse("album eq 'x'' or 1 eq 1 or '''");

        Assert.NotNull(filter);
        var condition = Assert.Single(filter.Conditions);
        Assert.Equal("album", condition.Field);
        Assert.Equal("x' or 1 eq 1 or '", condition.Value);
        Assert.Null(filter.UploadedFrom);
        Assert.Null(filter.UploadedTo);
    }

    [Theory]
    [InlineData("colour eq 'red'")]              // unknown field
    [InlineData("album ne 'x'")]                 // bad operator
    [InlineData("album gt 'x'")]                 // string fields take eq only
    [InlineData("uploadedAt eqq 2024-01-01T00:00:00Z")]
    [InlineData("album eq 'x")]                  // unclosed quote
    [InlineData("album eq 'x' or album eq 'y'")] // only 'and'
    [InlineData("album eq 'x' and")]
    [InlineData("album eq x")]                   // value not quoted
    [InlineData("album")]
    [InlineData("uploadedAt ge yesterday")]
    [InlineData("uploadedAt ge 2024-01-01T00:00:00Z and uploadedAt gt 2024-02-01T00:00:00Z")]
    public void Malformed_expressions_throw_FormatException(string text) =>
        Assert.Throws<FormatException>(() => SearchFilter.Parse(text));

    [Fact]
    public void Matches_checks_every_condition_and_bound()
    {
        var metadata = new ItemMetadata
        {
            Source = "photos",
            Name = "a.jpg",
            ContentHash = "00",
            ContentType = "image/jpeg",
            ModelId = "m",
            UploadedAt = new DateTimeOffset(2024, 3, 1, 0, 0, 0, TimeSpan.Zero),
            Tags = new Dictionary<string, string> { ["album"] = "trip" },
        };

        Assert.True(Parse("album eq 'trip' and contentType eq 'image/jpeg'").Matches(metadata));
        Assert.False(Parse("album eq 'Trip'").Matches(metadata));
        Assert.False(Parse("owner eq 'ann'").Matches(metadata));
        Assert.True(Parse("uploadedAt ge 2024-03-01T00:00:00Z").Matches(metadata));
        Assert.False(Parse("uploadedAt gt 2024-03-01T00:00:00Z").Matches(metadata));
        Assert.True(Parse("uploadedAt le 2024-03-01T00:00:00Z").Matches(metadata));
        Assert.False(Parse("uploadedAt lt 2024-03-01T00:00:00Z").Matches(metadata));
        Assert.True(Parse("uploadedAt eq 2024-03-01T00:00:00Z").Matches(metadata));
    }

    private static SearchFilter Parse(string text) => SearchFilter.Parse(text) ?? throw new InvalidOperationException("No filter.");
}
